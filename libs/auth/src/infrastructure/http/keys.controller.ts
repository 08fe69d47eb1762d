import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, ErrorResponseDto, IdParam, KeyedApi } from '@app/http';
import { Principal } from '@app/shared';
import { ApiKeyService } from '../../application/api-key.service';
import { presentApiKey } from './api-key.presenter';
import { ApiKeyResponseDto, CreateApiKeyDto, CreatedApiKeyResponseDto } from './dto/api-key.dto';

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
    return { ...presentApiKey(key), key: secret };
  }

  @Get()
  @ApiOperation({ summary: 'Every key, newest first, revoked and expired ones included (never a secret or a hash)' })
  @ApiOkResponse({ type: [ApiKeyResponseDto] })
  async list(): Promise<ApiKeyResponseDto[]> {
    const now = new Date();
    return (await this.keys.list()).map((key) => presentApiKey(key, now));
  }

  @Get(':id')
  @ApiOperation({ summary: 'One key (never its secret or hash)' })
  @ApiOkResponse({ type: ApiKeyResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'KEY_NOT_FOUND' })
  async get(@IdParam() id: string): Promise<ApiKeyResponseDto> {
    return presentApiKey(await this.keys.get(id));
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Revoke a key: the next request made with it, to any process, is refused (401). Idempotent' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'KEY_NOT_FOUND' })
  async revoke(@IdParam() id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
