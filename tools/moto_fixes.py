"""Corrections to moto 5.2.5 that make its local AWS behave as AWS does
under concurrency and as data grows (docs/adr/0005-moto-corrections.md).

Each correction replaces one function of moto. It was written against that
function's exact source, whose SHA-256 is recorded below: apply() refuses to
start when moto is another version or when any replaced function's source
differs, because a correction written for other code could silently undo
moto's own behaviour or miss a new one.

1. DynamoDB TransactWriteItems. moto deep-copies every table a transaction
   touches before it starts and, when a condition fails, puts the copies in
   place of the tables. A transaction therefore costs as much as the tables
   it touches, and after a refused one every DynamoDB Streams shard iterator
   handed out before it reads a shard object that no longer receives records:
   stream consumers stall for good. Here every condition is checked first,
   nothing is written when one fails, and the writes of a transaction that
   fails half way are undone item by item, with the stream records they
   emitted taken back. No table is ever copied or replaced.
2. DynamoDB Query. moto lists and sorts every item of the table on each
   Query to find one partition. Here a Query on the table reads its one
   partition, and a Query on an index scans the items unsorted (the index's
   own sort follows, as before).
3. Kinesis GetRecords and PutRecord(s). moto walks a shard's records from its
   first on every GetRecords and lists every sequence number on every put.
   Here both go straight to the position, as sequence numbers in a shard
   are consecutive.
4. DynamoDB Streams shard iterators. moto keeps every iterator it ever
   handed out (one per GetRecords), so a long local session grows without
   bound. Here an iterator expires 15 minutes after it was handed out, as on
   AWS, with ExpiredIteratorException.
5. DynamoDB and DynamoDB Streams responses. moto serializes every attribute
   value of every item by walking the service model, member by member: a
   Query of 50 commits spends most of its time there. Here an
   AttributeValue, whose wire form is the value itself, is written directly
   (binary values base64-encoded, as the model's serializer does).
6. DynamoDB item operations (GetItem, Query, Scan, the writes, their batch
   and transaction forms). moto turns their results into plain values, then
   serializes them by the model: two walks over every attribute of every
   item. Here the result is written as JSON in one pass, by moto's own
   DynamoDB encoder (DynamoType.to_json), as moto did before its model
   serializer; members without a value, or not in the operation's output,
   are left out, as that serializer does.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import inspect
import threading
import time
from typing import Any

import moto

MOTO_VERSION = "5.2.5"

# SHA-256 of inspect.getsource() of each function in moto 5.2.5 that a
# correction replaces, or whose behaviour a correction relies on (how a
# table keeps its items, how its stream shard appends records, how a
# Kinesis shard numbers them).
EXPECTED_SOURCES = {
    # replaced
    "moto.dynamodb.models.DynamoDBBackend.transact_write_items": "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    "moto.dynamodb.models.table.Table.query": "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    "moto.dynamodb.models.table.Table.all_items": "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    "moto.kinesis.models.Shard.get_records": "1188a73a6b3db1f9acd79de3488b0c52f9f6efa21a5755fbf9ec1da3c5ebc28a",
    "moto.kinesis.models.Shard.get_max_sequence_number": "eff48df162f5a63d31722187966dbf749a73bd39c0aba368169c1a4be19f8491",
    "moto.dynamodbstreams.models.ShardIterator.__init__": "5842e50a95242ef84673613918b71c4a2a9c149d4baa10904b0c84034c4c793e",
    "moto.dynamodbstreams.models.DynamoDBStreamsBackend.get_records": "db8c6cb04430c08f76be9e6b3cc9317387643b4fee26f43071c5ac22e25d2b64",
    "moto.core.serialize.ResponseSerializer._serialize": "4eccca5bf02593efd2e425f7e1659871406ee6734ec1084ccd452885b7e89052",
    "moto.dynamodb.responses.DynamoResult.__init__": "e2394775cd5ef6ad00a9de7afdea2b54f753ea2dfcb11ecabe1acc80497cda35",
    # relied on
    "moto.dynamodb.models.table.StreamShard.add": "357dc6da267e5dd7d46e18ee25d14b232a98679677906a2f02e4d454d1f11e03",
    "moto.dynamodb.models.table.Table.put_item": "de23933013ef842639046c19bcf7e418bce0474d810f6719368be4cedce11d47",
    "moto.dynamodb.models.table.Table.delete_item": "1594f7b07616c8cb8cdf0fbf58d6f54eeac83f25d7ac7b14e832a08e10efd8f9",
    "moto.dynamodb.models.table.Table.get_item": "b08e98fe37b7e5836afe03b010d637ef50df5dea6cbecd9cf8816eef326a21cd",
    "moto.dynamodb.models.DynamoDBBackend.update_item": "218984588dd689a5de81678ce11e6a40d05c91e7b6c21b44c4ed4122fe74aa9f",
    "moto.kinesis.models.Shard.put_record": "e2d15174261bc63e98ffce9cab9a1038f07c7ff5ce9846cb7b3202652f60ae38",
    "moto.dynamodbstreams.models.ShardIterator.get": "8932c0f7250e89963eef1e848bdd205a05c0f6ed94f526ed36ca9b7339442ace",
    "moto.core.responses.ActionResult.execute_result": "6333faa349b58671258985778d2aaf02d31e0617aae380442e4c683c36ab248d",
    "moto.dynamodb.models.utilities.dynamo_json_dump": "2aa70fe4a931096fa86e0d063aafe6ff9f7d276f06b7fe2cd837d5c6ddeb6e84",
    "moto.dynamodb.models.utilities.DynamoJsonEncoder.default": "487a50bc0a68864f3013b0d56e0ec47a7eb585b63987e9d65b92910d3611b7ba",
    "moto.dynamodb.models.dynamo_type.DynamoType.to_json": "62eaa03febd15b265a19d9b5e5431df5d4ab880af1124ca32ffb4a8ca9075410",
}

# How long a DynamoDB Streams shard iterator stays valid, as on AWS.
ITERATOR_LIFETIME_SECONDS = 15 * 60


class MotoMismatch(Exception):
    """moto is not the code these corrections were written for."""


def _resolve(path: str) -> Any:
    parts = path.split(".")
    # The longest importable module prefix, then attributes.
    for i in range(len(parts), 0, -1):
        name = ".".join(parts[:i])
        try:
            obj = __import__(name, fromlist=["_"])
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise MotoMismatch(f"{path} does not exist")


def source_digest(path: str) -> str:
    """The SHA-256 of the source of the function at path."""
    try:
        fn = _resolve(path)
        src = inspect.getsource(fn)
    except (AttributeError, OSError, TypeError) as e:
        raise MotoMismatch(f"{path}: {e}") from e
    return hashlib.sha256(src.encode()).hexdigest()


def check() -> None:
    """Raise MotoMismatch unless moto is the code the corrections expect."""
    if moto.__version__ != MOTO_VERSION:
        raise MotoMismatch(
            f"moto is {moto.__version__}, the corrections were written for {MOTO_VERSION}"
        )
    changed = [p for p, want in EXPECTED_SOURCES.items() if source_digest(p) != want]
    if changed:
        raise MotoMismatch(
            "moto's code differs from what the corrections were written for: "
            + ", ".join(changed)
        )


# 1. TransactWriteItems -------------------------------------------------------


def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()

    # Check: every operation's key, and every condition against the state
    # before the transaction. Operations touch distinct items, so no write
    # of this transaction could change what a later condition sees.
    targets: set[tuple[str, str]] = set()
    ops: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[Any] = []
    for item in transact_items:
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        original_item = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            target = (str(table_name), str(dict(sorted(key.items()))))
            if target in targets:
                raise MultipleTransactionsException()
            targets.add(target)
            ops.append((op_type, op, key))

            condition = op.get("ConditionExpression")
            if condition is not None:
                current = self.get_item(table_name, key)
                condition_op = _filter_expression(
                    condition,
                    op.get("ExpressionAttributeNames"),
                    op.get("ExpressionAttributeValues"),
                )
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # noqa: BLE001 - reported per item, as moto does
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # Apply, keeping what each write replaced, to undo it if a later one
    # fails (an update expression that does not apply to the item, say).
    undo: list[tuple[Any, Any, Any, Any]] = []
    shards: dict[int, tuple[Any, int]] = {}
    for i, (op_type, op, key) in enumerate(ops):
        if op_type == "ConditionCheck":
            continue
        table = self.get_table(op["TableName"])
        hash_value, range_value = self.get_keys_value(table, key)
        shard = table.stream_shard
        if shard is not None and id(shard) not in shards:
            shards[id(shard)] = (shard, len(shard.items))
        undo.append((table, hash_value, range_value, copy.deepcopy(_peek(table, hash_value, range_value))))
        try:
            _apply(self, op_type, op, key)
        except Exception as e:
            _rollback(undo, shards)
            if isinstance(e, (MultipleTransactionsException, MockValidationException)):
                raise
            failed: list[Any] = [(None, None, None)] * len(ops)
            failed[i] = (type(e).__name__, str(getattr(e, "message", e)), None)
            raise TransactionCanceledException(failed) from e


def _filter_expression(condition: str, names: Any, values: Any) -> Any:
    from moto.dynamodb.models import get_filter_expression

    return get_filter_expression(condition, names, values)


def _apply(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names = op.get("ExpressionAttributeNames")
    values = op.get("ExpressionAttributeValues")
    condition = op.get("ConditionExpression")
    if op_type == "Put":
        backend.put_item(
            op["TableName"],
            op["Item"],
            condition_expression=condition,
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif op_type == "Delete":
        backend.delete_item(
            op["TableName"],
            key,
            condition_expression=condition,
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            condition_expression=condition,
            expression_attribute_names=names,
            expression_attribute_values=values,
        )


def _peek(table: Any, hash_value: Any, range_value: Any) -> Any:
    """The item at the key, without creating an empty partition."""
    partition = table.items.get(hash_value)
    if partition is None:
        return None
    if table.range_key_attr is None:
        return partition
    return partition.get(range_value)


def _rollback(undo: list[tuple[Any, Any, Any, Any]], shards: dict[int, tuple[Any, int]]) -> None:
    for table, hash_value, range_value, previous in reversed(undo):
        if table.range_key_attr is None:
            if previous is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = previous
            continue
        partition = table.items.get(hash_value)
        if previous is None:
            if partition is not None:
                partition.pop(range_value, None)
        else:
            table.items[hash_value][range_value] = previous
    # The stream never saw a transaction that did not happen.
    for shard, length in shards.values():
        del shard.items[length:]


# 2. Query -------------------------------------------------------------------

_query_scope = threading.local()


def _install_query() -> None:
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items
    signature = inspect.signature(original_query)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        index_name = bound.arguments.get("index_name")
        hash_key = bound.arguments.get("hash_key")
        if index_name:
            _query_scope.value = ("index", None)
        elif hash_key is not None:
            _query_scope.value = ("partition", hash_key)
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_scope.value = None

    def all_items(self) -> list[Any]:
        scope = getattr(_query_scope, "value", None)
        if scope is None:
            return original_all_items(self)
        kind, hash_key = scope
        if kind == "partition":
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        # An index query sorts what it finds by the index's keys.
        out: list[Any] = []
        for partition in self.items.values():
            if self.range_key_attr:
                out.extend(partition.values())
            else:
                out.append(partition)
        return out

    Table.query = query
    Table.all_items = all_items


# 3. Kinesis -----------------------------------------------------------------


def _install_kinesis() -> None:
    from moto.kinesis.models import Shard

    original_get_records = Shard.get_records

    def get_max_sequence_number(self) -> int:
        if self.records:
            return next(reversed(self.records))
        return 0

    def get_records(self, last_sequence_id: str, limit: int | None) -> Any:
        records = self.records
        last = int(last_sequence_id)
        if not records:
            return [], last, 0
        newest = next(reversed(records))
        if last >= newest:
            return [], last, 0
        if last + 1 not in records:
            # Not the next one: a position moto's own walk must find.
            return original_get_records(self, last_sequence_id, limit)
        results = []
        seq = last
        while seq < newest and (limit is None or len(results) != limit):
            record = records.get(seq + 1)
            if record is None:
                break
            results.append(record)
            seq += 1
        behind = records[newest].created_at - results[-1].created_at
        return results, seq, int(behind * 1000)

    Shard.get_max_sequence_number = get_max_sequence_number
    Shard.get_records = get_records


# 4. DynamoDB Streams iterators ------------------------------------------------


def _install_stream_iterators() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    class ExpiredIteratorException(JsonRESTError):
        code = 400

        def __init__(self) -> None:
            super().__init__(
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created over 15 minutes ago.",
            )

    original_init = ShardIterator.__init__

    def init(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.created = time.monotonic()

    def get_records(self, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterators = self.shard_iterators
        shard_iterator = iterators.get(iterator_arn)
        now = time.monotonic()
        if shard_iterator is None or now - shard_iterator.created > ITERATOR_LIFETIME_SECONDS:
            raise ExpiredIteratorException()
        # Forget the expired ones, the oldest first (a dict keeps the
        # order they were handed out in).
        while iterators:
            oldest = next(iter(iterators))
            if now - iterators[oldest].created <= ITERATOR_LIFETIME_SECONDS:
                break
            del iterators[oldest]
        return shard_iterator.get(limit)

    ShardIterator.__init__ = init
    DynamoDBStreamsBackend.get_records = get_records


# 5. AttributeValue responses --------------------------------------------------


def attribute_value(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue in its wire form."""
    out: dict[str, Any] = {}
    for kind, v in value.items():
        if kind == "M":
            out[kind] = {k: attribute_value(e) for k, e in v.items()}
        elif kind == "L":
            out[kind] = [attribute_value(e) for e in v]
        elif kind == "B":
            out[kind] = _base64(v)
        elif kind == "BS":
            out[kind] = [_base64(e) for e in v]
        elif kind in ("SS", "NS"):
            out[kind] = [str(e) for e in v]
        elif kind in ("NULL", "BOOL"):
            out[kind] = bool(v)
        else:
            out[kind] = str(v)
    return out


def _base64(v: str | bytes) -> str:
    if isinstance(v, str):
        v = v.encode("utf-8")
    return base64.b64encode(v).strip().decode("utf-8")


def _install_attribute_values() -> None:
    from moto.core.serialize import ResponseSerializer

    original = ResponseSerializer._serialize

    def serialize(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and isinstance(value, dict):
            serialized[key] = attribute_value(value)
            return
        original(self, serialized, value, shape, key)

    ResponseSerializer._serialize = serialize


# 6. Item operations' responses ------------------------------------------------

# The operations whose results are items and counts: nothing in them needs
# the model's serializer (no timestamps, no renamed members).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _install_item_responses() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.models.utilities import dynamo_json_dump, dynamo_to_dict
    from moto.dynamodb.responses import DynamoResult

    def init(self, result: object) -> None:
        # Kept as it is: moto's handlers add members to it (ConsumedCapacity)
        # after it is made; it is converted only if the model's serializer
        # is used.
        self._result = result

    def execute_result(self, context: Any) -> Any:
        operation = context.operation_model
        raw = self._result
        if operation.name in ITEM_OPERATIONS and isinstance(raw, dict):
            members = operation.output_shape.members
            body = dynamo_json_dump({k: v for k, v in raw.items() if v is not None and k in members})
            status = operation.http.get("responseCode", 200)
            return status, {"Content-Type": "application/x-amz-json-1.0"}, body
        return ActionResult(dynamo_to_dict(raw)).execute_result(context)

    DynamoResult.__init__ = init
    DynamoResult.execute_result = execute_result


def apply() -> None:
    """Check moto, then install every correction."""
    check()
    import moto.dynamodb.models as dynamodb_models

    dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items
    _install_query()
    _install_kinesis()
    _install_stream_iterators()
    _install_attribute_values()
    _install_item_responses()
