/// <reference path="./wasm-connect-connector-config-def.d.ts" />
/// <reference path="./wasm-connect-connector-types.d.ts" />
declare module 'wasm-connect:connector/connector@0.1.0' {
  /**
   * Names and describes the plugin. Called by the host when it loads the component.
   */
  export function describe(): PluginInfo;
  /**
   * The connector's version, e.g. `1.2.0`. Called when the component is loaded.
   */
  export function version(): string;
  /**
   * The connector's own settings (the host adds the framework's, such as `tasks.max`).
   * Called when the component is loaded and for `/connector-plugins/{plugin}/config`.
   */
  export function configDef(): Array<ConfigKey>;
  /**
   * Checks a configuration beyond what `config-def` validators can say (cross-field
   * rules). Returns one entry per setting it has something to say about; entries with
   * errors make the configuration invalid. Called before `start` and by the REST
   * `/config/validate` endpoint, possibly on an instance that is never started.
   */
  export function validate(config: Config): Array<ConfigValue>;
  /**
   * Starts the connector with its full configuration. Called once per instance. An error
   * fails the connector (state FAILED, with the message as trace).
   */
  export function start(config: Config): void;
  /**
   * Splits the work into at most `max-tasks` task configurations. Called after `start`
   * and after each `connector-context.request-task-reconfiguration`. An error fails the
   * connector. The host adds `task.class` and, for sinks, `topics`/`topics.regex`.
   */
  export function taskConfigs(maxTasks: number): Array<Config>;
  /**
   * Stops the connector. Called once; the instance is dropped afterwards.
   */
  export function stop(): void;
  export type Config = import('wasm-connect:connector/types@0.1.0').Config;
  export type ConnectorError = import('wasm-connect:connector/types@0.1.0').ConnectorError;
  export type ConfigKey = import('wasm-connect:connector/config-def@0.1.0').ConfigKey;
  export type ConfigValue = import('wasm-connect:connector/config-def@0.1.0').ConfigValue;
  /**
   * What the host lists in `/connector-plugins`.
   */
  export interface PluginInfo {
    /**
     * The class name users put in `connector.class`, e.g. `FileStreamSource`.
     */
    className: string,
    /**
     * Further names that resolve to this plugin, e.g. a Java class name it replaces.
     */
    aliases: Array<string>,
    /**
     * One line saying what the connector does.
     */
    description: string,
  }
}
