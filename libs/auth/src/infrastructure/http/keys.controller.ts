import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, ParseUUIDPipe, Patch, PipeTransform, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, ErrorResponseDto, IdParam, KeyedApi } from '@app/http';
import { BOOTSTRAP_KEY_ID, Principal } from '@app/shared';
import { ApiKeyService } from '../../application/api-key.service';
import { ApiKey } from '../../domain/api-key';
import { presentApiKey } from './api-key.presenter';
import { ApiKeyResponseDto, CreateApiKeyDto, CreatedApiKeyResponseDto, UpdateApiKeyDto } from './dto/api-key.dto';

/** A key id: a UUID, or 'bootstrap' (API_KEY) so that the use case can say why that one cannot change. */
class KeyIdPipe implements PipeTransform<string, Promise<string>> {
  private readonly uuid = new ParseUUIDPipe();
  async transform(value: string, metadata: Parameters<ParseUUIDPipe['transform']>[1]): Promise<string> {
    return value === BOOTSTRAP_KEY_ID ? value : this.uuid.transform(value, metadata);
  }
}

@ApiTags('keys')
@KeyedApi({ role: 'admin', unauthorized: 'no key, or an unknown, revoked or expired one', forbidden: 'the key is not admin' })
@Controller('api/v1/keys')
export class KeysController {
  constructor(private readonly keys: ApiKeyService) {}

  @Post()
  @ApiOperation({ summary: 'Issue a key: the secret is in the response this once, and stored only as a hash' })
  @ApiCreatedResponse({ type: CreatedApiKeyResponseDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'VALIDATION_FAILED, KEY_INVALID (details.field: e.g. expiresAt not in the future), WORKSPACE_INVALID, WORKSPACE_OUTSIDE_ROOTS',
  })
  async create(@Body() body: CreateApiKeyDto, @CurrentPrincipal() principal: Principal): Promise<CreatedApiKeyResponseDto> {
    const { key, secret } = await this.keys.create(
      { ...body, expiresAt: body.expiresAt === undefined ? undefined : new Date(body.expiresAt) },
      principal,
    );
    return { ...(await this.present(key)), key: secret };
  }

  @Get()
  @ApiOperation({ summary: 'Every key, newest first, revoked and expired ones included (never a secret or a hash)' })
  @ApiOkResponse({ type: [ApiKeyResponseDto] })
  async list(): Promise<ApiKeyResponseDto[]> {
    const now = new Date();
    const keys = await this.keys.list();
    const spent = await this.keys.spentToday(keys.map((k) => k.id));
    return keys.map((key) => presentApiKey(key, spent.get(key.id), now));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One key (never its secret or hash)' })
  @ApiOkResponse({ type: ApiKeyResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'KEY_NOT_FOUND' })
  async get(@IdParam() id: string): Promise<ApiKeyResponseDto> {
    return this.present(await this.keys.get(id));
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change a key's daily budget (per UTC day, over every session made with it), with the version you read" })
  @ApiOkResponse({ type: ApiKeyResponseDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: "VALIDATION_FAILED; KEY_INVALID (details.field: e.g. budget.maxCostUsd, or id for 'bootstrap', API_KEY, which has no stored row)",
  })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'KEY_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'KEY_VERSION_CONFLICT (stale version)' })
  async update(@Param('id', KeyIdPipe) id: string, @Body() body: UpdateApiKeyDto): Promise<ApiKeyResponseDto> {
    return this.present(await this.keys.changeBudget(id, body.version, body.budget));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke a key: the next request made with it, to any process, is refused (401). Idempotent' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'KEY_NOT_FOUND' })
  async revoke(@IdParam() id: string): Promise<void> {
    await this.keys.revoke(id);
  }

  private async present(key: ApiKey): Promise<ApiKeyResponseDto> {
    return presentApiKey(key, (await this.keys.spentToday([key.id])).get(key.id));
  }
}
