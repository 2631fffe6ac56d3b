"""The simulated marketplace's own state. Thin data; ``actions.py`` is the only writer."""

from __future__ import annotations

from django.db import models


class Account(models.Model):
    """A simulated Alibaba Cloud account: a main account, or a RAM user under one."""

    uid = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    is_ram = models.BooleanField(default=False)
    main_uid = models.CharField(max_length=32, blank=True, default="")
    # 实名认证: Alibaba lets only real-name-verified accounts buy from the marketplace.
    verified = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} ({self.uid})"


class Instance(models.Model):
    """A purchased service as 已购买的服务 lists it. ``instance_id`` is the orderBizId."""

    class Status(models.TextChoices):
        OPENING = "opening", "开通中 Opening"
        OPENED = "opened", "已开通 Opened"
        EXPIRED = "expired", "已过期 Expired"
        CLOSED = "closed", "已关闭 Closed"

    instance_id = models.CharField(max_length=32, unique=True)
    order_id = models.CharField(max_length=32)
    ali_uid = models.CharField(max_length=32, db_index=True)
    product_code = models.CharField(max_length=64)
    product_name = models.CharField(max_length=128)
    sku_id = models.CharField(max_length=64)
    trial = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPENING)
    vendor_instance_id = models.CharField(max_length=64, blank=True, default="")
    auth_url = models.CharField(max_length=500, blank=True, default="")
    app_info = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.instance_id


class Order(models.Model):
    """One purchase, renewal or upgrade, as DescribeOrderForIsv reports it."""

    order_id = models.CharField(max_length=32, unique=True)
    instance_id = models.CharField(max_length=32, db_index=True)
    ali_uid = models.CharField(max_length=32)
    order_type = models.CharField(max_length=16)  # NEW / RENEW / TRIAL / UPGRADE
    product_code = models.CharField(max_length=64)
    product_name = models.CharField(max_length=128)
    sku_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.order_id


class Delivery(models.Model):
    """One SPI call the marketplace owes the vendor, retried until it succeeds or runs out of tries."""

    class State(models.TextChoices):
        PENDING = "pending", "投递中 Pending"
        DELIVERED = "delivered", "已送达 Delivered"
        GAVE_UP = "gave_up", "已放弃 Gave up"

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="deliveries", null=True)
    action = models.CharField(max_length=32)
    params = models.JSONField()  # unsigned; the token is computed on every attempt
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # Test hook: "" (none), "duplicate" (deliver twice), "timeout_after_commit" (drop the first answer).
    fault = models.CharField(max_length=32, blank=True, default="")
    # The lease of the delivery loop sending it now (kaitong_base.claims): no other loop sends it until
    # the lease ends, and a loop killed mid-send strands it only until then.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.action} #{self.id}"


class Attempt(models.Model):
    """Every try of a delivery, with what came back."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    http_status = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    reason = models.CharField(max_length=300)
    response = models.TextField(blank=True, default="")
    elapsed_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.number}"


class ApiCall(models.Model):
    """Every request to the fake Market OpenAPI and how it was answered."""

    at = models.DateTimeField(db_index=True)
    request_id = models.CharField(max_length=64)
    action = models.CharField(max_length=64, blank=True, default="")
    access_key_id = models.CharField(max_length=128, blank=True, default="")
    signature_method = models.CharField(max_length=32, blank=True, default="")
    http_status = models.PositiveIntegerField()
    code = models.CharField(max_length=64)  # "OK" or the POP error code
    message = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.code}"


class UsedNonce(models.Model):
    """A signature nonce seen inside the timestamp window; a second use is refused."""

    nonce = models.CharField(max_length=128, unique=True)
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.nonce


class MeteringRecord(models.Model):
    """One accepted PushMeteringData record: what the buyer's bill is made of."""

    request_id = models.CharField(max_length=64)
    received_at = models.DateTimeField(db_index=True)
    instance_id = models.CharField(max_length=32, db_index=True)
    product_code = models.CharField(max_length=64)
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    entities = models.JSONField()
    cost = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.cost}"
