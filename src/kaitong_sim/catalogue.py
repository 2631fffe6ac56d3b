"""The products the simulated marketplace sells: the commercial edition and the exclusive (SLS) edition.

Both codes and both billing items come from the configuration (the same ``KAITONG_ALIYUN_*`` variables
the vendor reads), so a deployment testing other product codes sells and meters those. Pure: the
configuration is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class _Codes(Protocol):
    product_code: str
    metering_assit: str
    exclusive_product_code: str
    exclusive_metering_assit: str


@dataclass(frozen=True)
class Product:
    code: str
    edition: str  # "commercial" | "exclusive"
    title: str  # Chinese, as the product page heads it
    title_en: str
    metering_assit: str  # the billing item (meteringAssit) every pushed entity of this product carries

    @property
    def name(self) -> str:
        """As DescribeOrderForIsv and 已购买的服务 show it."""
        return f"{self.title} {self.title_en}"

    @property
    def postpay_sku(self) -> str:
        return f"{self.code}-postpay"

    @property
    def upgrade_sku(self) -> str:
        return f"{self.code}-postpay-pro"

    @property
    def trial_sku(self) -> str:
        return f"{self.code}-trial"


def products(config: _Codes) -> dict[str, Product]:
    """Code → product, commercial first (the order of the product page)."""
    commercial = Product(
        code=config.product_code,
        edition="commercial",
        title="观测云 商业版（按量付费）",
        title_en="Guance Cloud Commercial (pay-as-you-go)",
        metering_assit=config.metering_assit,
    )
    exclusive = Product(
        code=config.exclusive_product_code,
        edition="exclusive",
        title="观测云 专属版（SLS）",
        title_en="Guance Cloud Exclusive (SLS)",
        metering_assit=config.exclusive_metering_assit,
    )
    return {p.code: p for p in (commercial, exclusive)}
