import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from exporter.sources.hubble._pb.flow import flow_pb2 as _flow_pb2
from exporter.sources.hubble._pb.relay import relay_pb2 as _relay_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CountedResponse(_message.Message):
    __slots__ = ("flow", "node_status", "lost_events")
    FLOW_FIELD_NUMBER: _ClassVar[int]
    NODE_STATUS_FIELD_NUMBER: _ClassVar[int]
    LOST_EVENTS_FIELD_NUMBER: _ClassVar[int]
    flow: CountedFlow
    node_status: _relay_pb2.NodeStatusEvent
    lost_events: _flow_pb2.LostEvent
    def __init__(self, flow: _Optional[_Union[CountedFlow, _Mapping]] = ..., node_status: _Optional[_Union[_relay_pb2.NodeStatusEvent, _Mapping]] = ..., lost_events: _Optional[_Union[_flow_pb2.LostEvent, _Mapping]] = ...) -> None: ...

class CountedFlow(_message.Message):
    __slots__ = ("time", "uuid", "verdict", "drop_reason_desc", "source", "destination", "node_name", "l7", "event_type", "traffic_direction", "policy_match_type", "egress_allowed_by", "ingress_allowed_by", "egress_denied_by", "ingress_denied_by")
    TIME_FIELD_NUMBER: _ClassVar[int]
    UUID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    DROP_REASON_DESC_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    L7_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_DIRECTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_MATCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    EGRESS_ALLOWED_BY_FIELD_NUMBER: _ClassVar[int]
    INGRESS_ALLOWED_BY_FIELD_NUMBER: _ClassVar[int]
    EGRESS_DENIED_BY_FIELD_NUMBER: _ClassVar[int]
    INGRESS_DENIED_BY_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    uuid: str
    verdict: _flow_pb2.Verdict
    drop_reason_desc: _flow_pb2.DropReason
    source: CountedEndpoint
    destination: CountedEndpoint
    node_name: str
    l7: CountedLayer7
    event_type: _flow_pb2.CiliumEventType
    traffic_direction: _flow_pb2.TrafficDirection
    policy_match_type: int
    egress_allowed_by: _containers.RepeatedCompositeFieldContainer[CountedPolicy]
    ingress_allowed_by: _containers.RepeatedCompositeFieldContainer[CountedPolicy]
    egress_denied_by: _containers.RepeatedCompositeFieldContainer[CountedPolicy]
    ingress_denied_by: _containers.RepeatedCompositeFieldContainer[CountedPolicy]
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uuid: _Optional[str] = ..., verdict: _Optional[_Union[_flow_pb2.Verdict, str]] = ..., drop_reason_desc: _Optional[_Union[_flow_pb2.DropReason, str]] = ..., source: _Optional[_Union[CountedEndpoint, _Mapping]] = ..., destination: _Optional[_Union[CountedEndpoint, _Mapping]] = ..., node_name: _Optional[str] = ..., l7: _Optional[_Union[CountedLayer7, _Mapping]] = ..., event_type: _Optional[_Union[_flow_pb2.CiliumEventType, _Mapping]] = ..., traffic_direction: _Optional[_Union[_flow_pb2.TrafficDirection, str]] = ..., policy_match_type: _Optional[int] = ..., egress_allowed_by: _Optional[_Iterable[_Union[CountedPolicy, _Mapping]]] = ..., ingress_allowed_by: _Optional[_Iterable[_Union[CountedPolicy, _Mapping]]] = ..., egress_denied_by: _Optional[_Iterable[_Union[CountedPolicy, _Mapping]]] = ..., ingress_denied_by: _Optional[_Iterable[_Union[CountedPolicy, _Mapping]]] = ...) -> None: ...

class CountedEndpoint(_message.Message):
    __slots__ = ("identity", "namespace", "pod_name", "workloads")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    POD_NAME_FIELD_NUMBER: _ClassVar[int]
    WORKLOADS_FIELD_NUMBER: _ClassVar[int]
    identity: int
    namespace: str
    pod_name: str
    workloads: _containers.RepeatedCompositeFieldContainer[CountedWorkload]
    def __init__(self, identity: _Optional[int] = ..., namespace: _Optional[str] = ..., pod_name: _Optional[str] = ..., workloads: _Optional[_Iterable[_Union[CountedWorkload, _Mapping]]] = ...) -> None: ...

class CountedWorkload(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CountedPolicy(_message.Message):
    __slots__ = ("name", "namespace", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    namespace: str
    kind: str
    def __init__(self, name: _Optional[str] = ..., namespace: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class CountedLayer7(_message.Message):
    __slots__ = ("type", "dns", "http", "kafka")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DNS_FIELD_NUMBER: _ClassVar[int]
    HTTP_FIELD_NUMBER: _ClassVar[int]
    KAFKA_FIELD_NUMBER: _ClassVar[int]
    type: _flow_pb2.L7FlowType
    dns: CountedRecord
    http: CountedRecord
    kafka: CountedRecord
    def __init__(self, type: _Optional[_Union[_flow_pb2.L7FlowType, str]] = ..., dns: _Optional[_Union[CountedRecord, _Mapping]] = ..., http: _Optional[_Union[CountedRecord, _Mapping]] = ..., kafka: _Optional[_Union[CountedRecord, _Mapping]] = ...) -> None: ...

class CountedRecord(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
