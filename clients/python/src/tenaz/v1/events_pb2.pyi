import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliveryStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DELIVERY_STATUS_UNSPECIFIED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_PENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_SENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_WAITING_RETRY: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_RESENDING: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_SUCCEEDED: _ClassVar[DeliveryStatus]
    DELIVERY_STATUS_FAILED: _ClassVar[DeliveryStatus]

class FailureReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILURE_REASON_UNSPECIFIED: _ClassVar[FailureReason]
    FAILURE_REASON_REJECTED: _ClassVar[FailureReason]
    FAILURE_REASON_EXPIRED: _ClassVar[FailureReason]
    FAILURE_REASON_CANCELLED: _ClassVar[FailureReason]
    FAILURE_REASON_DESTINATION_DELETED: _ClassVar[FailureReason]

class AttemptOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ATTEMPT_OUTCOME_UNSPECIFIED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_IN_PROGRESS: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_SUCCEEDED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_EXTERNAL_PROBLEM: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_REJECTED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_INTERRUPTED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_EXPIRED: _ClassVar[AttemptOutcome]
    ATTEMPT_OUTCOME_ATTEMPT_BUDGET: _ClassVar[AttemptOutcome]

class OperationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_KIND_UNSPECIFIED: _ClassVar[OperationKind]
    OPERATION_KIND_RETRY: _ClassVar[OperationKind]
    OPERATION_KIND_CANCEL: _ClassVar[OperationKind]

class OperationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_STATE_UNSPECIFIED: _ClassVar[OperationState]
    OPERATION_STATE_RUNNING: _ClassVar[OperationState]
    OPERATION_STATE_DONE: _ClassVar[OperationState]
    OPERATION_STATE_FAILED: _ClassVar[OperationState]

class DestinationHealth(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESTINATION_HEALTH_UNSPECIFIED: _ClassVar[DestinationHealth]
    DESTINATION_HEALTH_HEALTHY: _ClassVar[DestinationHealth]
    DESTINATION_HEALTH_FAILING: _ClassVar[DestinationHealth]
    DESTINATION_HEALTH_NEEDS_ACTION: _ClassVar[DestinationHealth]
    DESTINATION_HEALTH_DISABLED: _ClassVar[DestinationHealth]
DELIVERY_STATUS_UNSPECIFIED: DeliveryStatus
DELIVERY_STATUS_PENDING: DeliveryStatus
DELIVERY_STATUS_SENDING: DeliveryStatus
DELIVERY_STATUS_WAITING_RETRY: DeliveryStatus
DELIVERY_STATUS_RESENDING: DeliveryStatus
DELIVERY_STATUS_SUCCEEDED: DeliveryStatus
DELIVERY_STATUS_FAILED: DeliveryStatus
FAILURE_REASON_UNSPECIFIED: FailureReason
FAILURE_REASON_REJECTED: FailureReason
FAILURE_REASON_EXPIRED: FailureReason
FAILURE_REASON_CANCELLED: FailureReason
FAILURE_REASON_DESTINATION_DELETED: FailureReason
ATTEMPT_OUTCOME_UNSPECIFIED: AttemptOutcome
ATTEMPT_OUTCOME_IN_PROGRESS: AttemptOutcome
ATTEMPT_OUTCOME_SUCCEEDED: AttemptOutcome
ATTEMPT_OUTCOME_EXTERNAL_PROBLEM: AttemptOutcome
ATTEMPT_OUTCOME_REJECTED: AttemptOutcome
ATTEMPT_OUTCOME_INTERRUPTED: AttemptOutcome
ATTEMPT_OUTCOME_EXPIRED: AttemptOutcome
ATTEMPT_OUTCOME_ATTEMPT_BUDGET: AttemptOutcome
OPERATION_KIND_UNSPECIFIED: OperationKind
OPERATION_KIND_RETRY: OperationKind
OPERATION_KIND_CANCEL: OperationKind
OPERATION_STATE_UNSPECIFIED: OperationState
OPERATION_STATE_RUNNING: OperationState
OPERATION_STATE_DONE: OperationState
OPERATION_STATE_FAILED: OperationState
DESTINATION_HEALTH_UNSPECIFIED: DestinationHealth
DESTINATION_HEALTH_HEALTHY: DestinationHealth
DESTINATION_HEALTH_FAILING: DestinationHealth
DESTINATION_HEALTH_NEEDS_ACTION: DestinationHealth
DESTINATION_HEALTH_DISABLED: DestinationHealth

class UserData(_message.Message):
    __slots__ = ("email", "phone", "first_name", "last_name", "city", "state", "zip", "country", "external_id", "gender", "date_of_birth", "client_ip_address", "client_user_agent", "fbc", "fbp", "ttclid", "ttp", "gclid", "gbraid", "wbraid", "epik", "sc_click_id", "sc_cookie1", "kwai_click_id", "ga_client_id", "li_fat_id", "rdt_click_id")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    FIRST_NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_NAME_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ZIP_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_ID_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    CLIENT_IP_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    FBC_FIELD_NUMBER: _ClassVar[int]
    FBP_FIELD_NUMBER: _ClassVar[int]
    TTCLID_FIELD_NUMBER: _ClassVar[int]
    TTP_FIELD_NUMBER: _ClassVar[int]
    GCLID_FIELD_NUMBER: _ClassVar[int]
    GBRAID_FIELD_NUMBER: _ClassVar[int]
    WBRAID_FIELD_NUMBER: _ClassVar[int]
    EPIK_FIELD_NUMBER: _ClassVar[int]
    SC_CLICK_ID_FIELD_NUMBER: _ClassVar[int]
    SC_COOKIE1_FIELD_NUMBER: _ClassVar[int]
    KWAI_CLICK_ID_FIELD_NUMBER: _ClassVar[int]
    GA_CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    LI_FAT_ID_FIELD_NUMBER: _ClassVar[int]
    RDT_CLICK_ID_FIELD_NUMBER: _ClassVar[int]
    email: str
    phone: str
    first_name: str
    last_name: str
    city: str
    state: str
    zip: str
    country: str
    external_id: str
    gender: str
    date_of_birth: str
    client_ip_address: str
    client_user_agent: str
    fbc: str
    fbp: str
    ttclid: str
    ttp: str
    gclid: str
    gbraid: str
    wbraid: str
    epik: str
    sc_click_id: str
    sc_cookie1: str
    kwai_click_id: str
    ga_client_id: str
    li_fat_id: str
    rdt_click_id: str
    def __init__(self, email: _Optional[str] = ..., phone: _Optional[str] = ..., first_name: _Optional[str] = ..., last_name: _Optional[str] = ..., city: _Optional[str] = ..., state: _Optional[str] = ..., zip: _Optional[str] = ..., country: _Optional[str] = ..., external_id: _Optional[str] = ..., gender: _Optional[str] = ..., date_of_birth: _Optional[str] = ..., client_ip_address: _Optional[str] = ..., client_user_agent: _Optional[str] = ..., fbc: _Optional[str] = ..., fbp: _Optional[str] = ..., ttclid: _Optional[str] = ..., ttp: _Optional[str] = ..., gclid: _Optional[str] = ..., gbraid: _Optional[str] = ..., wbraid: _Optional[str] = ..., epik: _Optional[str] = ..., sc_click_id: _Optional[str] = ..., sc_cookie1: _Optional[str] = ..., kwai_click_id: _Optional[str] = ..., ga_client_id: _Optional[str] = ..., li_fat_id: _Optional[str] = ..., rdt_click_id: _Optional[str] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("id", "quantity", "item_price")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ITEM_PRICE_FIELD_NUMBER: _ClassVar[int]
    id: str
    quantity: int
    item_price: float
    def __init__(self, id: _Optional[str] = ..., quantity: _Optional[int] = ..., item_price: _Optional[float] = ...) -> None: ...

class CustomData(_message.Message):
    __slots__ = ("value", "currency", "order_id", "contents", "content_type", "extra")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    value: float
    currency: str
    order_id: str
    contents: _containers.RepeatedCompositeFieldContainer[Content]
    content_type: str
    extra: _struct_pb2.Struct
    def __init__(self, value: _Optional[float] = ..., currency: _Optional[str] = ..., order_id: _Optional[str] = ..., contents: _Optional[_Iterable[_Union[Content, _Mapping]]] = ..., content_type: _Optional[str] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("event_id", "event_name", "event_time", "action_source", "event_source_url", "user_data", "custom_data", "destinations")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTION_SOURCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_SOURCE_URL_FIELD_NUMBER: _ClassVar[int]
    USER_DATA_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_DATA_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    event_name: str
    event_time: _timestamp_pb2.Timestamp
    action_source: str
    event_source_url: str
    user_data: UserData
    custom_data: CustomData
    destinations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, event_id: _Optional[str] = ..., event_name: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action_source: _Optional[str] = ..., event_source_url: _Optional[str] = ..., user_data: _Optional[_Union[UserData, _Mapping]] = ..., custom_data: _Optional[_Union[CustomData, _Mapping]] = ..., destinations: _Optional[_Iterable[str]] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "trigger", "started_at", "finished_at", "outcome", "http_status", "platform_code", "platform_subcode", "message", "response_excerpt")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    HTTP_STATUS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_CODE_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_SUBCODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_EXCERPT_FIELD_NUMBER: _ClassVar[int]
    number: int
    trigger: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    outcome: AttemptOutcome
    http_status: int
    platform_code: int
    platform_subcode: int
    message: str
    response_excerpt: str
    def __init__(self, number: _Optional[int] = ..., trigger: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outcome: _Optional[_Union[AttemptOutcome, str]] = ..., http_status: _Optional[int] = ..., platform_code: _Optional[int] = ..., platform_subcode: _Optional[int] = ..., message: _Optional[str] = ..., response_excerpt: _Optional[str] = ...) -> None: ...

class Delivery(_message.Message):
    __slots__ = ("id", "destination", "status", "failure_reason", "attempt_count", "next_attempt_at", "deadline", "last_error", "created_at", "updated_at", "attempts", "platform")
    ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_COUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    id: str
    destination: str
    status: DeliveryStatus
    failure_reason: FailureReason
    attempt_count: int
    next_attempt_at: _timestamp_pb2.Timestamp
    deadline: _timestamp_pb2.Timestamp
    last_error: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    platform: str
    def __init__(self, id: _Optional[str] = ..., destination: _Optional[str] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., failure_reason: _Optional[_Union[FailureReason, str]] = ..., attempt_count: _Optional[int] = ..., next_attempt_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_error: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., platform: _Optional[str] = ...) -> None: ...

class StoredEvent(_message.Message):
    __slots__ = ("id", "event", "received_at", "deliveries")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    event: Event
    received_at: _timestamp_pb2.Timestamp
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, id: _Optional[str] = ..., event: _Optional[_Union[Event, _Mapping]] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class SubmitEventRequest(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: Event
    def __init__(self, event: _Optional[_Union[Event, _Mapping]] = ...) -> None: ...

class SubmitEventResponse(_message.Message):
    __slots__ = ("event", "duplicate")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    event: StoredEvent
    duplicate: bool
    def __init__(self, event: _Optional[_Union[StoredEvent, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class SubmitEventsRequest(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class SubmitEventResult(_message.Message):
    __slots__ = ("index", "id", "duplicate", "deliveries")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    index: int
    id: str
    duplicate: bool
    deliveries: _containers.RepeatedCompositeFieldContainer[Delivery]
    def __init__(self, index: _Optional[int] = ..., id: _Optional[str] = ..., duplicate: _Optional[bool] = ..., deliveries: _Optional[_Iterable[_Union[Delivery, _Mapping]]] = ...) -> None: ...

class SubmitEventsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitEventResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitEventResult, _Mapping]]] = ...) -> None: ...

class GetEventRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetEventResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: StoredEvent
    def __init__(self, event: _Optional[_Union[StoredEvent, _Mapping]] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("statuses", "destination", "event_name", "received_after", "received_before", "event_ids", "page_size", "page_token")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AFTER_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[DeliveryStatus]
    destination: str
    event_name: str
    received_after: _timestamp_pb2.Timestamp
    received_before: _timestamp_pb2.Timestamp
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    page_size: int
    page_token: str
    def __init__(self, statuses: _Optional[_Iterable[_Union[DeliveryStatus, str]]] = ..., destination: _Optional[str] = ..., event_name: _Optional[str] = ..., received_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., event_ids: _Optional[_Iterable[str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[StoredEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[StoredEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatusChange(_message.Message):
    __slots__ = ("sequence", "event_id", "client_event_id", "event_name", "delivery_id", "destination", "from_status", "to_status", "at", "attempt_number", "error")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    event_id: str
    client_event_id: str
    event_name: str
    delivery_id: str
    destination: str
    from_status: DeliveryStatus
    to_status: DeliveryStatus
    at: _timestamp_pb2.Timestamp
    attempt_number: int
    error: str
    def __init__(self, sequence: _Optional[int] = ..., event_id: _Optional[str] = ..., client_event_id: _Optional[str] = ..., event_name: _Optional[str] = ..., delivery_id: _Optional[str] = ..., destination: _Optional[str] = ..., from_status: _Optional[_Union[DeliveryStatus, str]] = ..., to_status: _Optional[_Union[DeliveryStatus, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt_number: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("last_sequence", "at")
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    last_sequence: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, last_sequence: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ("after_sequence", "destinations", "statuses", "event_names", "event_ids", "heartbeat_interval")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAMES_FIELD_NUMBER: _ClassVar[int]
    EVENT_IDS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    destinations: _containers.RepeatedScalarFieldContainer[str]
    statuses: _containers.RepeatedScalarFieldContainer[DeliveryStatus]
    event_names: _containers.RepeatedScalarFieldContainer[str]
    event_ids: _containers.RepeatedScalarFieldContainer[str]
    heartbeat_interval: _duration_pb2.Duration
    def __init__(self, after_sequence: _Optional[int] = ..., destinations: _Optional[_Iterable[str]] = ..., statuses: _Optional[_Iterable[_Union[DeliveryStatus, str]]] = ..., event_names: _Optional[_Iterable[str]] = ..., event_ids: _Optional[_Iterable[str]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class WatchStatusResponse(_message.Message):
    __slots__ = ("change", "heartbeat")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    change: StatusChange
    heartbeat: Heartbeat
    def __init__(self, change: _Optional[_Union[StatusChange, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class DeliveryFilter(_message.Message):
    __slots__ = ("statuses", "destination", "event_name", "created_after", "created_before")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    EVENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[DeliveryStatus]
    destination: str
    event_name: str
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    def __init__(self, statuses: _Optional[_Iterable[_Union[DeliveryStatus, str]]] = ..., destination: _Optional[str] = ..., event_name: _Optional[str] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Operation(_message.Message):
    __slots__ = ("id", "kind", "state", "total", "processed", "changed", "skipped", "created_at", "finished_at", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: OperationKind
    state: OperationState
    total: int
    processed: int
    changed: int
    skipped: int
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    error: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[OperationKind, str]] = ..., state: _Optional[_Union[OperationState, str]] = ..., total: _Optional[int] = ..., processed: _Optional[int] = ..., changed: _Optional[int] = ..., skipped: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class RetryDeliveriesRequest(_message.Message):
    __slots__ = ("delivery_ids", "filter")
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    filter: DeliveryFilter
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[DeliveryFilter, _Mapping]] = ...) -> None: ...

class RetryDeliveriesResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: Operation
    def __init__(self, operation: _Optional[_Union[Operation, _Mapping]] = ...) -> None: ...

class CancelDeliveriesRequest(_message.Message):
    __slots__ = ("delivery_ids", "filter")
    DELIVERY_IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    delivery_ids: _containers.RepeatedScalarFieldContainer[str]
    filter: DeliveryFilter
    def __init__(self, delivery_ids: _Optional[_Iterable[str]] = ..., filter: _Optional[_Union[DeliveryFilter, _Mapping]] = ...) -> None: ...

class CancelDeliveriesResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: Operation
    def __init__(self, operation: _Optional[_Union[Operation, _Mapping]] = ...) -> None: ...

class GetOperationRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetOperationResponse(_message.Message):
    __slots__ = ("operation",)
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    operation: Operation
    def __init__(self, operation: _Optional[_Union[Operation, _Mapping]] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("since", "until", "bucket")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    bucket: _duration_pb2.Duration
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bucket: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StatusCount(_message.Message):
    __slots__ = ("destination", "status", "count")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    destination: str
    status: DeliveryStatus
    count: int
    def __init__(self, destination: _Optional[str] = ..., status: _Optional[_Union[DeliveryStatus, str]] = ..., count: _Optional[int] = ...) -> None: ...

class AttemptBucket(_message.Message):
    __slots__ = ("start", "succeeded", "external_problem", "rejected", "interrupted", "expired")
    START_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    start: _timestamp_pb2.Timestamp
    succeeded: int
    external_problem: int
    rejected: int
    interrupted: int
    expired: int
    def __init__(self, start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., succeeded: _Optional[int] = ..., external_problem: _Optional[int] = ..., rejected: _Optional[int] = ..., interrupted: _Optional[int] = ..., expired: _Optional[int] = ...) -> None: ...

class DestinationStats(_message.Message):
    __slots__ = ("destination", "health", "reason", "waiting_retry", "success_rate", "last_success_at", "last_failure_at", "action")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    HEALTH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    WAITING_RETRY_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    LAST_SUCCESS_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_FAILURE_AT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    destination: str
    health: DestinationHealth
    reason: str
    waiting_retry: int
    success_rate: float
    last_success_at: _timestamp_pb2.Timestamp
    last_failure_at: _timestamp_pb2.Timestamp
    action: str
    def __init__(self, destination: _Optional[str] = ..., health: _Optional[_Union[DestinationHealth, str]] = ..., reason: _Optional[str] = ..., waiting_retry: _Optional[int] = ..., success_rate: _Optional[float] = ..., last_success_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_failure_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., action: _Optional[str] = ...) -> None: ...

class GetStatsResponse(_message.Message):
    __slots__ = ("counts", "success_rate", "attempts", "destinations", "since", "until")
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_RATE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[StatusCount]
    success_rate: float
    attempts: _containers.RepeatedCompositeFieldContainer[AttemptBucket]
    destinations: _containers.RepeatedCompositeFieldContainer[DestinationStats]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    def __init__(self, counts: _Optional[_Iterable[_Union[StatusCount, _Mapping]]] = ..., success_rate: _Optional[float] = ..., attempts: _Optional[_Iterable[_Union[AttemptBucket, _Mapping]]] = ..., destinations: _Optional[_Iterable[_Union[DestinationStats, _Mapping]]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
