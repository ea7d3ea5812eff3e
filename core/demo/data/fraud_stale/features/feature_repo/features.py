
from datetime import timedelta
from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float32, Int64

account = Entity(name="account", join_keys=["account_id"])
merchant = Entity(name="merchant", join_keys=["merchant_id"])
account_features = FeatureView(
    name="account_features", entities=[account], ttl=timedelta(hours=1),
    schema=[Field(name="txn_count_1h", dtype=Int64), Field(name="avg_amount_24h", dtype=Float32),
            Field(name="distinct_merchants_24h", dtype=Int64)],
    source=FileSource(name="account_features_feed", path="data/account_features.parquet",
                      timestamp_field="event_timestamp"))
merchant_risk = FeatureView(
    name="merchant_risk", entities=[merchant], ttl=timedelta(days=1),
    schema=[Field(name="chargeback_rate_30d", dtype=Float32)],
    source=FileSource(name="merchant_risk_daily", path="data/merchant_risk.parquet",
                      timestamp_field="event_timestamp"))
