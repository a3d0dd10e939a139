declare module 'wasm-connect:connector/types@0.1.0' {
  /**
   * A configuration as Kafka Connect passes it: string keys to string values.
   */
  export type Config = Array<[string, string]>;
  /**
   * The type of a schema node, exactly Kafka Connect's `Schema.Type`.
   * # Variants
   * 
   * ## `"int8"`
   * 
   * ## `"int16"`
   * 
   * ## `"int32"`
   * 
   * ## `"int64"`
   * 
   * ## `"float32"`
   * 
   * ## `"float64"`
   * 
   * ## `"boolean"`
   * 
   * ## `"string"`
   * 
   * ## `"bytes"`
   * 
   * ## `"array"`
   * 
   * ## `"map"`
   * 
   * ## `"struct"`
   */
  export type SchemaType = 'int8' | 'int16' | 'int32' | 'int64' | 'float32' | 'float64' | 'boolean' | 'string' | 'bytes' | 'array' | 'map' | 'struct';
  /**
   * A field of a struct schema.
   */
  export interface Field {
    /**
     * The field name, unique within the struct.
     */
    name: string,
    /**
     * Index of the field's schema in the same schema table.
     */
    schema: number,
  }
  /**
   * One node of a value tree. The root is node 0; containers refer to later nodes by index.
   */
  export type ValueNode = ValueNodeNull | ValueNodeBoolean | ValueNodeInt8 | ValueNodeInt16 | ValueNodeInt32 | ValueNodeInt64 | ValueNodeFloat32 | ValueNodeFloat64 | ValueNodeString | ValueNodeBytes | ValueNodeArray | ValueNodeMap | ValueNodeStruct;
  export interface ValueNodeNull {
    tag: 'null',
  }
  export interface ValueNodeBoolean {
    tag: 'boolean',
    val: boolean,
  }
  export interface ValueNodeInt8 {
    tag: 'int8',
    val: number,
  }
  export interface ValueNodeInt16 {
    tag: 'int16',
    val: number,
  }
  export interface ValueNodeInt32 {
    tag: 'int32',
    val: number,
  }
  export interface ValueNodeInt64 {
    tag: 'int64',
    val: bigint,
  }
  export interface ValueNodeFloat32 {
    tag: 'float32',
    val: number,
  }
  export interface ValueNodeFloat64 {
    tag: 'float64',
    val: number,
  }
  export interface ValueNodeString {
    tag: 'string',
    val: string,
  }
  export interface ValueNodeBytes {
    tag: 'bytes',
    val: Uint8Array,
  }
  /**
   * Elements, in order.
   */
  export interface ValueNodeArray {
    tag: 'array',
    val: Uint32Array,
  }
  /**
   * Entries as (key node, value node), in order.
   */
  export interface ValueNodeMap {
    tag: 'map',
    val: Array<[number, number]>,
  }
  /**
   * One node per field of the struct's schema, in field order.
   */
  export interface ValueNodeStruct {
    tag: 'struct',
    val: Uint32Array,
  }
  /**
   * One schema. Logical types are primitive schemas with a well-known `name`:
   * `org.apache.kafka.connect.data.Decimal` (bytes, parameter `scale`),
   * `org.apache.kafka.connect.data.Date` (int32 days since the epoch),
   * `org.apache.kafka.connect.data.Time` (int32 milliseconds since midnight) and
   * `org.apache.kafka.connect.data.Timestamp` (int64 milliseconds since the epoch).
   */
  export interface Schema {
    type: SchemaType,
    /**
     * Whether the value may be null.
     */
    optional: boolean,
    /**
     * The schema name (record name, or the logical type name).
     */
    name?: string,
    version?: number,
    doc?: string,
    /**
     * Schema parameters, in insertion order.
     */
    parameters: Array<[string, string]>,
    /**
     * The default value: a value tree (see `value`) whose root is node 0.
     */
    defaultValue?: Array<ValueNode>,
    /**
     * `array`: the element schema. `map`: the value schema. Otherwise none.
     */
    valueSchema?: number,
    /**
     * `map`: the key schema. Otherwise none.
     */
    keySchema?: number,
    /**
     * `struct`: the fields, in order. Otherwise empty.
     */
    fields: Array<Field>,
  }
  /**
   * A key, value or header value: a primitive directly, or a container as a node tree.
   * 
   * Most records carry a plain string, bytes or number, which crosses the boundary as
   * itself, with no node list around it. A primitive may also come as a one-node `tree`;
   * both mean the same value.
   */
  export type DataValue = DataValueNull | DataValueBoolean | DataValueInt8 | DataValueInt16 | DataValueInt32 | DataValueInt64 | DataValueFloat32 | DataValueFloat64 | DataValueString | DataValueBytes | DataValueTree;
  export interface DataValueNull {
    tag: 'null',
  }
  export interface DataValueBoolean {
    tag: 'boolean',
    val: boolean,
  }
  export interface DataValueInt8 {
    tag: 'int8',
    val: number,
  }
  export interface DataValueInt16 {
    tag: 'int16',
    val: number,
  }
  export interface DataValueInt32 {
    tag: 'int32',
    val: number,
  }
  export interface DataValueInt64 {
    tag: 'int64',
    val: bigint,
  }
  export interface DataValueFloat32 {
    tag: 'float32',
    val: number,
  }
  export interface DataValueFloat64 {
    tag: 'float64',
    val: number,
  }
  export interface DataValueString {
    tag: 'string',
    val: string,
  }
  export interface DataValueBytes {
    tag: 'bytes',
    val: Uint8Array,
  }
  /**
   * An array, map or struct (or any value) as a value tree; its root is node 0. Never
   * empty.
   */
  export interface DataValueTree {
    tag: 'tree',
    val: Array<ValueNode>,
  }
  /**
   * A key, value or header value with its schema.
   */
  export interface Data {
    /**
     * Index into the batch's schema table; none for schemaless data.
     */
    schema?: number,
    value: DataValue,
  }
  /**
   * A record header.
   */
  export interface Header {
    key: string,
    value: Data,
  }
  /**
   * A primitive in a source partition or source offset map.
   */
  export type Scalar = ScalarNull | ScalarBoolean | ScalarInt | ScalarFloat | ScalarString;
  export interface ScalarNull {
    tag: 'null',
  }
  export interface ScalarBoolean {
    tag: 'boolean',
    val: boolean,
  }
  export interface ScalarInt {
    tag: 'int',
    val: bigint,
  }
  export interface ScalarFloat {
    tag: 'float',
    val: number,
  }
  export interface ScalarString {
    tag: 'string',
    val: string,
  }
  /**
   * A source partition or source offset: Kafka Connect's `Map<String, ?>` of primitives.
   */
  export type OffsetMap = Array<[string, Scalar]>;
  /**
   * A Kafka topic partition.
   */
  export interface TopicPartition {
    topic: string,
    partition: number,
  }
  /**
   * A topic partition and an offset in it: the next offset to read, as Kafka commits it.
   */
  export interface TopicPartitionOffset {
    topic: string,
    partition: number,
    offset: bigint,
  }
  /**
   * What went wrong, and whether trying again can help.
   */
  export type ConnectorError = ConnectorErrorInvalidConfig | ConnectorErrorRetriable | ConnectorErrorFatal;
  /**
   * The configuration cannot work. The host fails the connector or task and does not retry.
   */
  export interface ConnectorErrorInvalidConfig {
    tag: 'invalid-config',
    val: string,
  }
  /**
   * A transient condition. The host retries the same call (for `put`, with the same batch).
   */
  export interface ConnectorErrorRetriable {
    tag: 'retriable',
    val: string,
  }
  /**
   * Anything else. The host fails the connector or task with this message as its trace.
   */
  export interface ConnectorErrorFatal {
    tag: 'fatal',
    val: string,
  }
  /**
   * Log levels, lowest to highest.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
