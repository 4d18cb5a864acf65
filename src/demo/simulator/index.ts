export {
  INTEGRATION_START_PATH,
  TOKEN_PATH,
  TOKEN_PATHS,
  UpstreamSimulator,
  negotiateResponse,
  type ScriptedAnswer,
  type SeedOptions,
  type SimulatorAuthConfig,
  type SimulatorCall,
  type SimulatorKey,
  type SimulatorTokenRequest,
  type UpstreamSimulatorOptions,
} from './upstream-simulator';
export { DTO_NAMESPACE, type IntegrationStatusDto, writeDtoJson, writeDtoXml } from './dto-writer';
export { REQUEST_NAMESPACE, readJsonRequest, readXmlRequest, RequestBodyError } from './request-reader';
export { formatTicks, parseTicks } from './net-time';
export { parseSimulatorArgs, type SimulatorCliArgs } from './cli-args';
