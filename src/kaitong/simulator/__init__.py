"""The Alibaba Cloud Marketplace simulator: buyer console, SPI delivery, fake Market OpenAPI."""
