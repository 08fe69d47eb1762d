import { SessionEventRecord } from '../../application/ports/session.repository.port';
import { Session } from '../../domain/session';
import { SessionEventDto, SessionResponseDto } from './dto/session.dto';

export function presentSession(session: Session): SessionResponseDto {
  const { deletedAt: _d, opencodeMessageId: _m, ...visible } = session.snapshot();
  return visible;
}

export function presentEvent({ sessionId: _s, ...event }: SessionEventRecord): SessionEventDto {
  return event;
}
