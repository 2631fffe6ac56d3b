"""kaitong (开通): open a SaaS commercial edition from Alibaba Cloud Marketplace and settle its usage there."""
