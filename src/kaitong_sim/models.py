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
    # 日志服务 SLS 开通: Alibaba's SLS must be activated in a main account before it can hold projects.
    sls_active = models.BooleanField(default=False)
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


# --- the buyer's Alibaba account: RAM, STS and SLS (cloud.py answers the SDKs from these) -------------------


class RamUser(models.Model):
    """A RAM user of a main account, with or without the SLS policy the vendor's policy file describes."""

    user_id = models.CharField(max_length=32, unique=True)  # as GetCallerIdentity reports it
    main_uid = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=64)
    sls_policy = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["main_uid", "name"], name="sim_ram_user_name_unique")]

    def __str__(self) -> str:
        return f"{self.name}@{self.main_uid}"


class AccessKey(models.Model):
    """A long-term AccessKey of a main account (``ram_user`` empty) or of a RAM user.

    The secret is kept in clear: the simulator must compute HMACs with it, as Alibaba does; it is
    shown to the buyer once, when created."""

    class State(models.TextChoices):
        ACTIVE = "active", "启用 Active"
        REVOKED = "revoked", "已禁用 Revoked"

    access_key_id = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=64)
    main_uid = models.CharField(max_length=32, db_index=True)
    ram_user = models.ForeignKey(RamUser, on_delete=models.CASCADE, null=True, blank=True, related_name="keys")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.access_key_id


class RoleGrant(models.Model):
    """A role in a buyer's account that an ISV may assume (第三方快捷授权 同意授权 creates it)."""

    class State(models.TextChoices):
        ACTIVE = "active", "已授权 Granted"
        REVOKED = "revoked", "已撤销 Revoked"

    buyer_uid = models.CharField(max_length=32, db_index=True)
    role_name = models.CharField(max_length=64)
    role_id = models.CharField(max_length=32)
    trusted_uid = models.CharField(max_length=32)  # the ISV's account: the role's trust policy names it
    external_id = models.CharField(max_length=128, blank=True, default="")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.role_name}@{self.buyer_uid}"


class StsCredential(models.Model):
    """Temporary credentials AssumeRole handed out: they act as the role, until they expire."""

    access_key_id = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=64)
    security_token = models.TextField()
    grant = models.ForeignKey(RoleGrant, on_delete=models.CASCADE, related_name="credentials")
    session_name = models.CharField(max_length=64)
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.access_key_id


class SlsProject(models.Model):
    """An SLS project: its name is unique in its region across all accounts, as on Alibaba."""

    owner_uid = models.CharField(max_length=32, db_index=True)
    region = models.CharField(max_length=32)
    name = models.CharField(max_length=63)
    description = models.CharField(max_length=512, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["region", "name"]
        constraints = [models.UniqueConstraint(fields=["region", "name"], name="sim_sls_project_unique")]

    def __str__(self) -> str:
        return f"{self.region}/{self.name}"


class SlsStore(models.Model):
    """A Logstore or Metricstore of a project (a Metricstore is a Logstore of metrics: one namespace)."""

    class Kind(models.TextChoices):
        LOGSTORE = "logstore", "Logstore"
        METRICSTORE = "metricstore", "Metricstore"

    project = models.ForeignKey(SlsProject, on_delete=models.CASCADE, related_name="stores")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    mode = models.CharField(max_length=16, default="standard")  # standard | query
    ttl = models.PositiveIntegerField(default=30)
    shard_count = models.PositiveIntegerField(default=2)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="sim_sls_store_unique")]

    def __str__(self) -> str:
        return self.name
