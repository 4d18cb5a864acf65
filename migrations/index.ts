import { CreateIntegrationAndRunTables1795948200000 } from './1795948200000-create-integration-and-run-tables';
import { RecordAttemptsAndRegressions1795948500000 } from './1795948500000-record-attempts-and-regressions';
import { LetRunFinishesUpdateIntegrationsInPlace1795958400000 } from './1795958400000-let-run-finishes-update-integrations-in-place';
import { EventOutbox1795970000000 } from './1795970000000-event-outbox';
import { AuditAndPauseReason1796100000000 } from './1796100000000-audit-and-pause-reason';
import { RecordTheAssumedUpstreamZone1796200000000 } from './1796200000000-record-the-assumed-upstream-zone';
import { KeepCustomDatabaseValuesInUpstreamOrder1796300000000 } from './1796300000000-keep-custom-database-values-in-upstream-order';

/** Every migration, oldest first. Listed explicitly so the build, the tests and the CLI load the same set. */
export const MIGRATIONS = [
  CreateIntegrationAndRunTables1795948200000,
  RecordAttemptsAndRegressions1795948500000,
  LetRunFinishesUpdateIntegrationsInPlace1795958400000,
  EventOutbox1795970000000,
  AuditAndPauseReason1796100000000,
  RecordTheAssumedUpstreamZone1796200000000,
  KeepCustomDatabaseValuesInUpstreamOrder1796300000000,
];
