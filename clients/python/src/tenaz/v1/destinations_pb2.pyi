import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetaSettings(_message.Message):
    __slots__ = ("pixel_id", "access_token", "access_token_set", "test_event_code", "api_version", "base_url")
    PIXEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    TEST_EVENT_CODE_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    pixel_id: str
    access_token: str
    access_token_set: bool
    test_event_code: str
    api_version: str
    base_url: str
    def __init__(self, pixel_id: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., test_event_code: _Optional[str] = ..., api_version: _Optional[str] = ..., base_url: _Optional[str] = ...) -> None: ...

class SandboxSettings(_message.Message):
    __slots__ = ("transient_failure_rate", "platform")
    TRANSIENT_FAILURE_RATE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    transient_failure_rate: float
    platform: str
    def __init__(self, transient_failure_rate: _Optional[float] = ..., platform: _Optional[str] = ...) -> None: ...

class TikTokSettings(_message.Message):
    __slots__ = ("pixel_code", "access_token", "access_token_set", "test_event_code", "base_url")
    PIXEL_CODE_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    TEST_EVENT_CODE_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    pixel_code: str
    access_token: str
    access_token_set: bool
    test_event_code: str
    base_url: str
    def __init__(self, pixel_code: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., test_event_code: _Optional[str] = ..., base_url: _Optional[str] = ...) -> None: ...

class GoogleAdsSettings(_message.Message):
    __slots__ = ("customer_id", "login_customer_id", "developer_token", "developer_token_set", "client_id", "client_secret", "client_secret_set", "refresh_token", "refresh_token_set", "conversion_actions", "lookback_days", "api_version", "base_url", "token_base_url")
    class ConversionActionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    LOGIN_CUSTOMER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVELOPER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    DEVELOPER_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_ACTIONS_FIELD_NUMBER: _ClassVar[int]
    LOOKBACK_DAYS_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BASE_URL_FIELD_NUMBER: _ClassVar[int]
    customer_id: str
    login_customer_id: str
    developer_token: str
    developer_token_set: bool
    client_id: str
    client_secret: str
    client_secret_set: bool
    refresh_token: str
    refresh_token_set: bool
    conversion_actions: _containers.ScalarMap[str, str]
    lookback_days: int
    api_version: str
    base_url: str
    token_base_url: str
    def __init__(self, customer_id: _Optional[str] = ..., login_customer_id: _Optional[str] = ..., developer_token: _Optional[str] = ..., developer_token_set: _Optional[bool] = ..., client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., client_secret_set: _Optional[bool] = ..., refresh_token: _Optional[str] = ..., refresh_token_set: _Optional[bool] = ..., conversion_actions: _Optional[_Mapping[str, str]] = ..., lookback_days: _Optional[int] = ..., api_version: _Optional[str] = ..., base_url: _Optional[str] = ..., token_base_url: _Optional[str] = ...) -> None: ...

class Ga4Settings(_message.Message):
    __slots__ = ("measurement_id", "api_secret", "api_secret_set", "base_url", "validate_first")
    MEASUREMENT_ID_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_FIELD_NUMBER: _ClassVar[int]
    API_SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_FIRST_FIELD_NUMBER: _ClassVar[int]
    measurement_id: str
    api_secret: str
    api_secret_set: bool
    base_url: str
    validate_first: bool
    def __init__(self, measurement_id: _Optional[str] = ..., api_secret: _Optional[str] = ..., api_secret_set: _Optional[bool] = ..., base_url: _Optional[str] = ..., validate_first: _Optional[bool] = ...) -> None: ...

class PinterestSettings(_message.Message):
    __slots__ = ("ad_account_id", "access_token", "access_token_set", "test", "base_url")
    AD_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    ad_account_id: str
    access_token: str
    access_token_set: bool
    test: bool
    base_url: str
    def __init__(self, ad_account_id: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., test: _Optional[bool] = ..., base_url: _Optional[str] = ...) -> None: ...

class SnapchatSettings(_message.Message):
    __slots__ = ("pixel_id", "access_token", "access_token_set", "validate_only", "base_url")
    PIXEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    VALIDATE_ONLY_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    pixel_id: str
    access_token: str
    access_token_set: bool
    validate_only: bool
    base_url: str
    def __init__(self, pixel_id: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., validate_only: _Optional[bool] = ..., base_url: _Optional[str] = ...) -> None: ...

class RedditSettings(_message.Message):
    __slots__ = ("ad_account_id", "access_token", "access_token_set", "test_mode", "base_url")
    AD_ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    TEST_MODE_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    ad_account_id: str
    access_token: str
    access_token_set: bool
    test_mode: bool
    base_url: str
    def __init__(self, ad_account_id: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., test_mode: _Optional[bool] = ..., base_url: _Optional[str] = ...) -> None: ...

class LinkedInSettings(_message.Message):
    __slots__ = ("access_token", "access_token_set", "conversion_rules", "api_version", "base_url")
    class ConversionRulesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    CONVERSION_RULES_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    access_token_set: bool
    conversion_rules: _containers.ScalarMap[str, str]
    api_version: str
    base_url: str
    def __init__(self, access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., conversion_rules: _Optional[_Mapping[str, str]] = ..., api_version: _Optional[str] = ..., base_url: _Optional[str] = ...) -> None: ...

class KwaiSettings(_message.Message):
    __slots__ = ("pixel_id", "access_token", "access_token_set", "test", "base_url")
    PIXEL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_SET_FIELD_NUMBER: _ClassVar[int]
    TEST_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    pixel_id: str
    access_token: str
    access_token_set: bool
    test: bool
    base_url: str
    def __init__(self, pixel_id: _Optional[str] = ..., access_token: _Optional[str] = ..., access_token_set: _Optional[bool] = ..., test: _Optional[bool] = ..., base_url: _Optional[str] = ...) -> None: ...

class WebhookSettings(_message.Message):
    __slots__ = ("url", "signing_secret", "signing_secret_set")
    URL_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    url: str
    signing_secret: str
    signing_secret_set: bool
    def __init__(self, url: _Optional[str] = ..., signing_secret: _Optional[str] = ..., signing_secret_set: _Optional[bool] = ...) -> None: ...

class Destination(_message.Message):
    __slots__ = ("name", "enabled", "meta", "sandbox", "tiktok", "google_ads", "ga4", "pinterest", "snapchat", "reddit", "linkedin", "kwai", "webhook", "retry_interval", "needs_action", "needs_action_reason", "created_at", "updated_at", "rate_limit", "event_filter", "event_names", "needs_action_code")
    class EventNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_FIELD_NUMBER: _ClassVar[int]
    TIKTOK_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_ADS_FIELD_NUMBER: _ClassVar[int]
    GA4_FIELD_NUMBER: _ClassVar[int]
    PINTEREST_FIELD_NUMBER: _ClassVar[int]
    SNAPCHAT_FIELD_NUMBER: _ClassVar[int]
    REDDIT_FIELD_NUMBER: _ClassVar[int]
    LINKEDIN_FIELD_NUMBER: _ClassVar[int]
    KWAI_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    RETRY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ACTION_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ACTION_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    EVENT_FILTER_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    NEEDS_ACTION_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    enabled: bool
    meta: MetaSettings
    sandbox: SandboxSettings
    tiktok: TikTokSettings
    google_ads: GoogleAdsSettings
    ga4: Ga4Settings
    pinterest: PinterestSettings
    snapchat: SnapchatSettings
    reddit: RedditSettings
    linkedin: LinkedInSettings
    kwai: KwaiSettings
    webhook: WebhookSettings
    retry_interval: _duration_pb2.Duration
    needs_action: bool
    needs_action_reason: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    rate_limit: float
    event_filter: _containers.RepeatedScalarFieldContainer[str]
    event_names: _containers.ScalarMap[str, str]
    needs_action_code: str
    def __init__(self, name: _Optional[str] = ..., enabled: _Optional[bool] = ..., meta: _Optional[_Union[MetaSettings, _Mapping]] = ..., sandbox: _Optional[_Union[SandboxSettings, _Mapping]] = ..., tiktok: _Optional[_Union[TikTokSettings, _Mapping]] = ..., google_ads: _Optional[_Union[GoogleAdsSettings, _Mapping]] = ..., ga4: _Optional[_Union[Ga4Settings, _Mapping]] = ..., pinterest: _Optional[_Union[PinterestSettings, _Mapping]] = ..., snapchat: _Optional[_Union[SnapchatSettings, _Mapping]] = ..., reddit: _Optional[_Union[RedditSettings, _Mapping]] = ..., linkedin: _Optional[_Union[LinkedInSettings, _Mapping]] = ..., kwai: _Optional[_Union[KwaiSettings, _Mapping]] = ..., webhook: _Optional[_Union[WebhookSettings, _Mapping]] = ..., retry_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., needs_action: _Optional[bool] = ..., needs_action_reason: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rate_limit: _Optional[float] = ..., event_filter: _Optional[_Iterable[str]] = ..., event_names: _Optional[_Mapping[str, str]] = ..., needs_action_code: _Optional[str] = ...) -> None: ...

class CreateDestinationRequest(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class CreateDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class GetDestinationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class ListDestinationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListDestinationsResponse(_message.Message):
    __slots__ = ("destinations",)
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    destinations: _containers.RepeatedCompositeFieldContainer[Destination]
    def __init__(self, destinations: _Optional[_Iterable[_Union[Destination, _Mapping]]] = ...) -> None: ...

class UpdateDestinationRequest(_message.Message):
    __slots__ = ("destination", "update_mask")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateDestinationResponse(_message.Message):
    __slots__ = ("destination",)
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    destination: Destination
    def __init__(self, destination: _Optional[_Union[Destination, _Mapping]] = ...) -> None: ...

class DeleteDestinationRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDestinationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
