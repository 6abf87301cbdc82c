import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AlertCondition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_CONDITION_UNSPECIFIED: _ClassVar[AlertCondition]
    ALERT_CONDITION_NEEDS_ACTION: _ClassVar[AlertCondition]
    ALERT_CONDITION_SUCCESS_RATE: _ClassVar[AlertCondition]
    ALERT_CONDITION_OLDEST_WAITING: _ClassVar[AlertCondition]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_FIRING: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_RESOLVED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_TEST: _ClassVar[NotificationKind]

class NotificationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_STATE_UNSPECIFIED: _ClassVar[NotificationState]
    NOTIFICATION_STATE_PENDING: _ClassVar[NotificationState]
    NOTIFICATION_STATE_SENT: _ClassVar[NotificationState]
    NOTIFICATION_STATE_FAILED: _ClassVar[NotificationState]
ALERT_CONDITION_UNSPECIFIED: AlertCondition
ALERT_CONDITION_NEEDS_ACTION: AlertCondition
ALERT_CONDITION_SUCCESS_RATE: AlertCondition
ALERT_CONDITION_OLDEST_WAITING: AlertCondition
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_FIRING: NotificationKind
NOTIFICATION_KIND_RESOLVED: NotificationKind
NOTIFICATION_KIND_TEST: NotificationKind
NOTIFICATION_STATE_UNSPECIFIED: NotificationState
NOTIFICATION_STATE_PENDING: NotificationState
NOTIFICATION_STATE_SENT: NotificationState
NOTIFICATION_STATE_FAILED: NotificationState

class AlertRule(_message.Message):
    __slots__ = ("name", "condition", "destination", "threshold", "window", "min_attempts", "recovery", "channels", "enabled", "firing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONDITION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    MIN_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    FIRING_FIELD_NUMBER: _ClassVar[int]
    name: str
    condition: AlertCondition
    destination: str
    threshold: float
    window: _duration_pb2.Duration
    min_attempts: int
    recovery: _duration_pb2.Duration
    channels: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    firing: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., condition: _Optional[_Union[AlertCondition, str]] = ..., destination: _Optional[str] = ..., threshold: _Optional[float] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_attempts: _Optional[int] = ..., recovery: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., channels: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., firing: _Optional[_Iterable[str]] = ...) -> None: ...

class WebhookChannelSettings(_message.Message):
    __slots__ = ("url", "signing_secret", "signing_secret_set")
    URL_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_FIELD_NUMBER: _ClassVar[int]
    SIGNING_SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    url: str
    signing_secret: str
    signing_secret_set: bool
    def __init__(self, url: _Optional[str] = ..., signing_secret: _Optional[str] = ..., signing_secret_set: _Optional[bool] = ...) -> None: ...

class EmailChannelSettings(_message.Message):
    __slots__ = ("host", "port", "username", "password", "password_set", "sender", "recipients")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_SET_FIELD_NUMBER: _ClassVar[int]
    SENDER_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    host: str
    port: int
    username: str
    password: str
    password_set: bool
    sender: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, host: _Optional[str] = ..., port: _Optional[int] = ..., username: _Optional[str] = ..., password: _Optional[str] = ..., password_set: _Optional[bool] = ..., sender: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ...) -> None: ...

class AlertChannel(_message.Message):
    __slots__ = ("name", "webhook", "email")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    webhook: WebhookChannelSettings
    email: EmailChannelSettings
    def __init__(self, name: _Optional[str] = ..., webhook: _Optional[_Union[WebhookChannelSettings, _Mapping]] = ..., email: _Optional[_Union[EmailChannelSettings, _Mapping]] = ...) -> None: ...

class Notification(_message.Message):
    __slots__ = ("id", "channel", "rule", "destination", "kind", "text", "state", "attempts", "last_error", "created_at", "sent_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    channel: str
    rule: str
    destination: str
    kind: NotificationKind
    text: str
    state: NotificationState
    attempts: int
    last_error: str
    created_at: _timestamp_pb2.Timestamp
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., channel: _Optional[str] = ..., rule: _Optional[str] = ..., destination: _Optional[str] = ..., kind: _Optional[_Union[NotificationKind, str]] = ..., text: _Optional[str] = ..., state: _Optional[_Union[NotificationState, str]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateAlertRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class CreateAlertRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class ListAlertRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAlertRulesResponse(_message.Message):
    __slots__ = ("rules",)
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[AlertRule]
    def __init__(self, rules: _Optional[_Iterable[_Union[AlertRule, _Mapping]]] = ...) -> None: ...

class UpdateAlertRuleRequest(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class UpdateAlertRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: AlertRule
    def __init__(self, rule: _Optional[_Union[AlertRule, _Mapping]] = ...) -> None: ...

class DeleteAlertRuleRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAlertRuleResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateAlertChannelRequest(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: AlertChannel
    def __init__(self, channel: _Optional[_Union[AlertChannel, _Mapping]] = ...) -> None: ...

class CreateAlertChannelResponse(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: AlertChannel
    def __init__(self, channel: _Optional[_Union[AlertChannel, _Mapping]] = ...) -> None: ...

class ListAlertChannelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAlertChannelsResponse(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[AlertChannel]
    def __init__(self, channels: _Optional[_Iterable[_Union[AlertChannel, _Mapping]]] = ...) -> None: ...

class UpdateAlertChannelRequest(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: AlertChannel
    def __init__(self, channel: _Optional[_Union[AlertChannel, _Mapping]] = ...) -> None: ...

class UpdateAlertChannelResponse(_message.Message):
    __slots__ = ("channel",)
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: AlertChannel
    def __init__(self, channel: _Optional[_Union[AlertChannel, _Mapping]] = ...) -> None: ...

class DeleteAlertChannelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAlertChannelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListNotificationsRequest(_message.Message):
    __slots__ = ("page_size", "before_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    BEFORE_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    before_id: int
    def __init__(self, page_size: _Optional[int] = ..., before_id: _Optional[int] = ...) -> None: ...

class ListNotificationsResponse(_message.Message):
    __slots__ = ("notifications",)
    NOTIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    notifications: _containers.RepeatedCompositeFieldContainer[Notification]
    def __init__(self, notifications: _Optional[_Iterable[_Union[Notification, _Mapping]]] = ...) -> None: ...

class TestChannelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class TestChannelResponse(_message.Message):
    __slots__ = ("notification",)
    NOTIFICATION_FIELD_NUMBER: _ClassVar[int]
    notification: Notification
    def __init__(self, notification: _Optional[_Union[Notification, _Mapping]] = ...) -> None: ...
