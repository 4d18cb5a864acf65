import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditRepository, type AuditRecord } from '../persistence/audit.repository';
import { decodeIdCursor, encodeIdCursor } from './dashboard-cursors';
import { AuditEntryView, AuditPage, AuditQuery } from './dto/operator.dto';
import { ProblemException } from './problem';

const DEFAULT_LIMIT = 50;

/** Error responses, security and headers are added to the document in ./openapi-document.ts. */
@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @ApiOperation({
    operationId: 'listAudit',
    description:
      'Every operator action (run now, pause, resume) and automatic resume (actor `system`), with actor, time, reason and the state before and after, newest first, a page at a time: pass `nextCursor` as `cursor` for the next. Entries are never changed or deleted.',
    summary: 'The audit trail of operator actions, newest first.',
  })
  @ApiOkResponse({ type: AuditPage, description: 'One page.' })
  async list(@Query() query: AuditQuery): Promise<AuditPage> {
    if (query.integrationName !== undefined && query.sourceSystemId === undefined) {
      throw ProblemException.invalidParameters([
        { name: 'integrationName', reason: 'needs sourceSystemId: an integration is named by both' },
      ]);
    }
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const page = await this.audit.list({
      limit,
      sourceSystemId: query.sourceSystemId === undefined ? undefined : Number(query.sourceSystemId),
      integrationName: query.integrationName,
      beforeId: query.cursor === undefined ? undefined : decodeIdCursor('a', query.cursor),
    });
    const last = page.items.at(-1);
    return {
      items: page.items.map(toAuditEntryView),
      nextCursor: page.hasMore && last ? encodeIdCursor('a', last.id) : null,
    };
  }
}

function toAuditEntryView(record: AuditRecord): AuditEntryView {
  return {
    id: record.id,
    at: record.at.toISOString(),
    actor: record.actor,
    action: record.action,
    sourceSystemId: record.sourceSystemId,
    integrationName: record.integrationName,
    reason: record.reason,
    before: record.before,
    after: record.after,
  };
}
