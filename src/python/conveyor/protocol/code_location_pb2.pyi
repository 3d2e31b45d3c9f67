from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetServerInfoRequest(_message.Message):
    __slots__ = ("client_protocol_version",)
    CLIENT_PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    client_protocol_version: int
    def __init__(self, client_protocol_version: _Optional[int] = ...) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("conveyor_version", "protocol_version", "capabilities", "executor")
    CONVEYOR_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    conveyor_version: str
    protocol_version: int
    capabilities: _containers.RepeatedScalarFieldContainer[str]
    executor: str
    def __init__(self, conveyor_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., capabilities: _Optional[_Iterable[str]] = ..., executor: _Optional[str] = ...) -> None: ...

class ListJobsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class JobInfo(_message.Message):
    __slots__ = ("name", "description", "parameters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: _containers.RepeatedCompositeFieldContainer[JobParameter]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Iterable[_Union[JobParameter, _Mapping]]] = ...) -> None: ...

class JobParameter(_message.Message):
    __slots__ = ("name", "required")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    name: str
    required: bool
    def __init__(self, name: _Optional[str] = ..., required: _Optional[bool] = ...) -> None: ...

class ListJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[JobInfo]
    def __init__(self, jobs: _Optional[_Iterable[_Union[JobInfo, _Mapping]]] = ...) -> None: ...

class ExecuteRunRequest(_message.Message):
    __slots__ = ("run_id", "job_name", "config_json")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    job_name: str
    config_json: str
    def __init__(self, run_id: _Optional[str] = ..., job_name: _Optional[str] = ..., config_json: _Optional[str] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("kind", "timestamp", "message", "result_json", "error")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[RunEvent.Kind]
        STARTED: _ClassVar[RunEvent.Kind]
        LOG: _ClassVar[RunEvent.Kind]
        SUCCESS: _ClassVar[RunEvent.Kind]
        FAILURE: _ClassVar[RunEvent.Kind]
        CANCELED: _ClassVar[RunEvent.Kind]
    KIND_UNSPECIFIED: RunEvent.Kind
    STARTED: RunEvent.Kind
    LOG: RunEvent.Kind
    SUCCESS: RunEvent.Kind
    FAILURE: RunEvent.Kind
    CANCELED: RunEvent.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_JSON_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    kind: RunEvent.Kind
    timestamp: float
    message: str
    result_json: str
    error: str
    def __init__(self, kind: _Optional[_Union[RunEvent.Kind, str]] = ..., timestamp: _Optional[float] = ..., message: _Optional[str] = ..., result_json: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class CancelRunResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...
