import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebhookSourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEBHOOK_SOURCE_KIND_UNSPECIFIED: _ClassVar[WebhookSourceKind]
    WEBHOOK_SOURCE_KIND_HOTMART: _ClassVar[WebhookSourceKind]
    WEBHOOK_SOURCE_KIND_KIWIFY: _ClassVar[WebhookSourceKind]
    WEBHOOK_SOURCE_KIND_EDUZZ: _ClassVar[WebhookSourceKind]
    WEBHOOK_SOURCE_KIND_GENERIC: _ClassVar[WebhookSourceKind]
WEBHOOK_SOURCE_KIND_UNSPECIFIED: WebhookSourceKind
WEBHOOK_SOURCE_KIND_HOTMART: WebhookSourceKind
WEBHOOK_SOURCE_KIND_KIWIFY: WebhookSourceKind
WEBHOOK_SOURCE_KIND_EDUZZ: WebhookSourceKind
WEBHOOK_SOURCE_KIND_GENERIC: WebhookSourceKind

class IgnoredEventType(_message.Message):
    __slots__ = ("event_type", "count", "last_at")
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_AT_FIELD_NUMBER: _ClassVar[int]
    event_type: str
    count: int
    last_at: _timestamp_pb2.Timestamp
    def __init__(self, event_type: _Optional[str] = ..., count: _Optional[int] = ..., last_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WebhookSource(_message.Message):
    __slots__ = ("name", "kind", "secret", "secret_set", "event_names", "fields", "destinations", "path", "ignored", "created_at", "updated_at")
    class EventNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SECRET_SET_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    IGNORED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: WebhookSourceKind
    secret: str
    secret_set: bool
    event_names: _containers.ScalarMap[str, str]
    fields: _containers.ScalarMap[str, str]
    destinations: _containers.RepeatedScalarFieldContainer[str]
    path: str
    ignored: _containers.RepeatedCompositeFieldContainer[IgnoredEventType]
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[_Union[WebhookSourceKind, str]] = ..., secret: _Optional[str] = ..., secret_set: _Optional[bool] = ..., event_names: _Optional[_Mapping[str, str]] = ..., fields: _Optional[_Mapping[str, str]] = ..., destinations: _Optional[_Iterable[str]] = ..., path: _Optional[str] = ..., ignored: _Optional[_Iterable[_Union[IgnoredEventType, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateWebhookSourceRequest(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: WebhookSource
    def __init__(self, source: _Optional[_Union[WebhookSource, _Mapping]] = ...) -> None: ...

class CreateWebhookSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: WebhookSource
    def __init__(self, source: _Optional[_Union[WebhookSource, _Mapping]] = ...) -> None: ...

class ListWebhookSourcesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWebhookSourcesResponse(_message.Message):
    __slots__ = ("sources",)
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[WebhookSource]
    def __init__(self, sources: _Optional[_Iterable[_Union[WebhookSource, _Mapping]]] = ...) -> None: ...

class UpdateWebhookSourceRequest(_message.Message):
    __slots__ = ("source", "update_mask")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    source: WebhookSource
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, source: _Optional[_Union[WebhookSource, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateWebhookSourceResponse(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: WebhookSource
    def __init__(self, source: _Optional[_Union[WebhookSource, _Mapping]] = ...) -> None: ...

class DeleteWebhookSourceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteWebhookSourceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
