// The agent's HTTP API v1 as a fastify instance that does not listen: tests drive it with inject(),
// lifecycle.ts puts it on the socket. Routes are thin: validate with the shared schemas, call the vault
// service, answer.
import Fastify, { type FastifyInstance } from 'fastify';
import type { z } from 'zod';
import {
  API_PREFIX,
  BODY_LIMIT_BYTES,
  EmptyRequestSchema,
  InitRequestSchema,
  ForgetRequestSchema,
  PullRequestSchema,
  PushRequestSchema,
  UnwatchRequestSchema,
  UseRequestSchema,
  WatchRequestSchema,
  VersionsQuerySchema,
  KeyExportRequestSchema,
  KeyImportRequestSchema,
  KeyRotateRequestSchema,
  BackupsQuerySchema,
  RestoreRequestSchema,
  DoctorRequestSchema,
  DiffRequestSchema,
  EnvRequestSchema,
  LogQuerySchema,
  type DoctorResult,
  type LockResult,
  type StatusResult,
  type WatchListResult,
} from '../../shared/api.js';
import { ENVIRONMENT_HEADER, environmentDifferences } from '../../shared/environment-fingerprint.js';
import { VsyncError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/validation.js';
import { VERSION } from '../../shared/version.js';
import type { EventHub } from '../vault/event-hub.js';
import type { KeyRing } from '../vault/key-ring.js';
import type { VaultService } from '../vault/vault-service.js';
import type { Watches } from '../watch/watches.js';
import { answerClientError, refuseConnect } from './client-errors.js';
import { ConnectionGuard } from './connection-guard.js';
import { errorBody, requestError } from './error-reply.js';
import { EventStreams } from './event-stream.js';
import { answer } from './ndjson-reply.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './server-limits.js';

export interface AppOptions {
  readonly service: VaultService;
  readonly keys: KeyRing;
  readonly watches: Watches;
  readonly events: EventHub;
  readonly socket: string;
  readonly startedAt: Date;
  /** Called after POST /v1/shutdown has been answered. */
  readonly onShutdown: () => void;
  readonly logger?: boolean;
  /** Defaults: DEFAULT_SERVER_LIMITS (server-limits.ts). */
  readonly limits?: Partial<ServerLimits>;
  /**
   * The agent's own environment fingerprint (shared/environment-fingerprint.ts), against which each client's
   * is checked; `credentials: false` for an agent a service manager started. Unchecked when absent.
   */
  readonly environment?: { readonly fingerprint: string; readonly credentials: boolean };
}

/** Routes that answer whatever the caller's environment: they read or end the agent itself, not a vault. */
const ENVIRONMENT_FREE = new Set([`${API_PREFIX}/status`, `${API_PREFIX}/shutdown`, `${API_PREFIX}/lock`, `${API_PREFIX}/events`]);

function parse<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  // No body at all is an empty request; a JSON `null` is a body of the wrong shape.
  const parsed = schema.safeParse(input === undefined ? {} : input);
  if (!parsed.success) throw new VsyncError('AGENT_BAD_REQUEST', describeIssues(parsed.error));
  return parsed.data;
}

export function buildApp(options: AppOptions): FastifyInstance {
  const { service, keys, watches, events } = options;
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    // fastify's request log: method, URL, status and time per call. Bodies are never logged.
    logger: options.logger ? { level: 'info' } : false,
    // Only the request is timed (headers and body, a few hundred bytes); answers such as a push streaming
    // NDJSON or an event stream take what they take. Idle connections: see connection-guard.ts.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: 0,
    keepAliveTimeout: limits.idleConnectionMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      // How often Node looks for requests past their time: often enough that the limit means what it says.
      connectionsCheckingInterval: Math.min(5_000, Math.max(50, Math.round(limits.requestTimeoutMs / 4))),
    },
    clientErrorHandler(err, socket) {
      // fastify binds the handler to the instance; its types do not say so.
      answerClientError(err, socket, (this as unknown as FastifyInstance).log);
    },
  });
  refuseConnect(app.server, app.log);
  new ConnectionGuard(app.server, { idleConnectionMs: limits.idleConnectionMs, maxConnections: limits.maxConnections, log: app.log });

  app.setErrorHandler((err, request, reply) => {
    const failure = requestError(err, request.log);
    void reply.status(failure.http).send(errorBody(failure));
  });
  const environment = options.environment;
  if (environment !== undefined) {
    app.addHook('onRequest', async (request) => {
      const theirs = request.headers[ENVIRONMENT_HEADER];
      if (typeof theirs !== 'string' || ENVIRONMENT_FREE.has(request.url.split('?')[0]!)) return;
      const differing = environmentDifferences(environment.fingerprint, theirs, { credentials: environment.credentials });
      if (differing.length > 0) throw new VsyncError('AGENT_ENVIRONMENT_CHANGED', `these differ: ${differing.join('; ')}`);
    });
  }
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send(errorBody(new VsyncError('AGENT_BAD_REQUEST', `no route ${request.method} ${request.url.split('?')[0]}`)));
  });

  app.get(`${API_PREFIX}/status`, async (): Promise<StatusResult> => {
    const unlocked = keys.unlocked();
    return {
      version: VERSION,
      pid: process.pid,
      socket: options.socket,
      startedAt: options.startedAt.toISOString(),
      uptimeMs: Math.max(0, Math.round(Date.now() - options.startedAt.getTime())),
      locked: unlocked.length === 0,
      unlocked,
      vaults: service.vaults(),
      watches: watches.list(),
    };
  });

  app.post(`${API_PREFIX}/init`, async (request, reply) => {
    const { cwd, env, ...rest } = parse(InitRequestSchema, request.body);
    return answer(request, reply, (_progress, signal) => service.init(cwd, env, rest, signal));
  });

  app.post(`${API_PREFIX}/push`, async (request, reply) => {
    const { cwd, env, force } = parse(PushRequestSchema, request.body);
    return answer(request, reply, (progress, signal) => service.push(cwd, env, { force: force ?? false }, progress, signal));
  });

  app.post(`${API_PREFIX}/pull`, async (request, reply) => {
    const { cwd, env, at, force } = parse(PullRequestSchema, request.body);
    return answer(request, reply, (progress, signal) =>
      service.pull(cwd, env, { ...(at ? { at } : {}), force: force ?? false }, progress, signal),
    );
  });

  app.get(`${API_PREFIX}/versions`, async (request) => {
    const { cwd, env } = parse(VersionsQuerySchema, request.query);
    return service.versions(cwd, env);
  });

  app.get(`${API_PREFIX}/log`, async (request) => {
    const { cwd, env, limit } = parse(LogQuerySchema, request.query);
    return service.log(cwd, env, limit);
  });

  // POST: the answer may hold values (showValues), and a GET's query string is what a request log keeps.
  app.post(`${API_PREFIX}/diff`, async (request) => {
    const { cwd, env, ...options } = parse(DiffRequestSchema, request.body);
    return service.diff(cwd, env, options);
  });

  // The answer holds secrets: only this user reaches the socket, and fastify's request log keeps no body.
  app.post(`${API_PREFIX}/env`, async (request) => {
    const { cwd, env, ...options } = parse(EnvRequestSchema, request.body);
    return service.env(cwd, env, options);
  });

  // POST: it writes (and removes) a scratch object in the store.
  app.post(`${API_PREFIX}/doctor`, async (request): Promise<DoctorResult> => {
    const { cwd, env } = parse(DoctorRequestSchema, request.body);
    const report = await service.doctor(cwd, env);
    return { agent: { version: VERSION, pid: process.pid, socket: options.socket }, ...report };
  });

  app.get(`${API_PREFIX}/backups`, async (request) => {
    const { cwd, env } = parse(BackupsQuerySchema, request.query);
    return service.backups(cwd, env);
  });

  app.post(`${API_PREFIX}/backups/restore`, async (request, reply) => {
    const { cwd, env, ts } = parse(RestoreRequestSchema, request.body);
    return answer(request, reply, (progress, signal) => service.restore(cwd, env, ts ? { ts } : {}, progress, signal));
  });

  app.post(`${API_PREFIX}/use`, async (request) => {
    const { cwd, env } = parse(UseRequestSchema, request.body);
    return service.use(cwd, env);
  });

  // The bodies carry a passphrase and the export's answer the one it made: fastify's request log never
  // holds bodies, and nothing here logs them.
  app.post(`${API_PREFIX}/key/export`, async (request) => {
    const { cwd, env, out, passphrase } = parse(KeyExportRequestSchema, request.body);
    return service.exportKey(cwd, env, { out, passphrase });
  });

  app.post(`${API_PREFIX}/key/rotate`, async (request, reply) => {
    const { cwd, env } = parse(KeyRotateRequestSchema, request.body);
    return answer(request, reply, (progress, signal) => service.rotateKey(cwd, env, progress, signal));
  });

  app.post(`${API_PREFIX}/key/import`, async (request) => {
    const { cwd, file, passphrase } = parse(KeyImportRequestSchema, request.body);
    return service.importKey(cwd, file, passphrase);
  });

  app.post(`${API_PREFIX}/forget`, async (request) => {
    const { cwd, env } = parse(ForgetRequestSchema, request.body);
    return service.forget(cwd, env);
  });

  app.post(`${API_PREFIX}/lock`, async (request): Promise<LockResult> => {
    parse(EmptyRequestSchema, request.body);
    const dropped = keys.lock();
    events.emit({ type: 'locked', dropped });
    return { dropped };
  });

  app.post(`${API_PREFIX}/watch`, async (request) => {
    const { cwd, env, follow } = parse(WatchRequestSchema, request.body);
    return watches.watch(cwd, env, follow ?? false);
  });

  app.post(`${API_PREFIX}/unwatch`, async (request) => {
    const { cwd, env } = parse(UnwatchRequestSchema, request.body);
    return watches.unwatch(cwd, env);
  });

  app.get(`${API_PREFIX}/watch`, async (request): Promise<WatchListResult> => {
    parse(EmptyRequestSchema, request.query);
    return { watches: watches.list() };
  });

  const streams = new EventStreams(events, { bufferBytes: limits.eventBufferBytes });
  app.get(`${API_PREFIX}/events`, async (request, reply) => {
    parse(EmptyRequestSchema, request.query);
    return streams.serve(request, reply);
  });
  // Before the server waits for open responses to end: an event stream would never end by itself.
  app.addHook('preClose', async () => streams.closeAll());

  app.post(
    `${API_PREFIX}/shutdown`,
    {
      // After this request's own lifecycle is over: closing from inside it would wait on itself. Only a
      // shutdown that was accepted: a refused one (a body that is not `{}`) leaves the agent running.
      onResponse: async (_request, reply) => {
        if (reply.statusCode === 202) setImmediate(options.onShutdown);
      },
    },
    async (request, reply) => {
      parse(EmptyRequestSchema, request.body);
      return reply.status(202).send({});
    },
  );

  return app;
}
