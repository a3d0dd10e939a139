declare module 'wasm-connect:connector/config-def@0.1.0' {
  /**
   * The type of a setting, as Kafka Connect's `ConfigDef.Type`.
   * # Variants
   * 
   * ## `"boolean"`
   * 
   * ## `"string"`
   * 
   * ## `"int"`
   * 
   * ## `"short"`
   * 
   * ## `"long"`
   * 
   * ## `"double"`
   * 
   * ## `"list"`
   * 
   * ## `"class"`
   * 
   * ## `"password"`
   * 
   * Shown as `[hidden]` wherever the host prints configuration.
   */
  export type ConfigType = 'boolean' | 'string' | 'int' | 'short' | 'long' | 'double' | 'list' | 'class' | 'password';
  /**
   * # Variants
   * 
   * ## `"high"`
   * 
   * ## `"medium"`
   * 
   * ## `"low"`
   */
  export type Importance = 'high' | 'medium' | 'low';
  /**
   * # Variants
   * 
   * ## `"none"`
   * 
   * ## `"short"`
   * 
   * ## `"medium"`
   * 
   * ## `"long"`
   */
  export type Width = 'none' | 'short' | 'medium' | 'long';
  /**
   * A numeric range; either bound may be open.
   */
  export interface Range {
    min?: number,
    max?: number,
  }
  /**
   * A check the host applies before handing a configuration to `validate` or `start`.
   */
  export type Validator = ValidatorRange | ValidatorValidString | ValidatorNonEmptyString;
  /**
   * A number within the range (inclusive).
   */
  export interface ValidatorRange {
    tag: 'range',
    val: Range,
  }
  /**
   * One of these strings (case-insensitive), also given as recommended values.
   */
  export interface ValidatorValidString {
    tag: 'valid-string',
    val: Array<string>,
  }
  /**
   * A non-empty string.
   */
  export interface ValidatorNonEmptyString {
    tag: 'non-empty-string',
  }
  /**
   * One setting.
   */
  export interface ConfigKey {
    name: string,
    type: ConfigType,
    /**
     * The default as a string; none means the setting is required.
     */
    defaultValue?: string,
    importance: Importance,
    documentation: string,
    group?: string,
    /**
     * Position within the group, from 1; 0 leaves it to declaration order.
     */
    orderInGroup: number,
    width: Width,
    displayName: string,
    /**
     * Settings whose validity depends on this one.
     */
    dependents: Array<string>,
    validator?: Validator,
    /**
     * Values a UI may offer.
     */
    recommendedValues: Array<string>,
  }
  /**
   * The result of validating one setting, as Kafka Connect's `ConfigValue`.
   */
  export interface ConfigValue {
    name: string,
    value?: string,
    recommendedValues: Array<string>,
    /**
     * Human-readable problems; empty when the setting is valid.
     */
    errors: Array<string>,
    visible: boolean,
  }
}
