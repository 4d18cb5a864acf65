import { Controller, Get, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { AuditRepository, type AuditRecord } from '../persistence/audit.repository';
import { decodeIdCursor, encodeIdCursor } from './dashboard-cursors';
import { AuditEntryView, AuditPage, AuditQuery } from './dto/operator.dto';
import { ProblemException } from './problem';

const DEFAULT_LIMIT = 50;

@ApiTags('audit')
@ApiBearerAuth('bearer')
@ApiSecurity('apiKey')
@ApiBadRequestResponse({ description: 'A parameter broke a rule (problem+json naming it).' })
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown one (problem+json, WWW-Authenticate).' })
@ApiForbiddenResponse({ description: 'The key lacks the `read` scope.' })
@ApiTooManyRequestsResponse({
  description: 'More than RATE_LIMIT_PER_MINUTE requests from this key (problem+json, Retry-After).',
})
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @ApiOperation({
    summary: 'The audit trail of operator actions (run now, pause, resume, automatic resume), newest first.',
  })
  @ApiOkResponse({ type: AuditPage })
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
