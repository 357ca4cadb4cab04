// What the agent tells anyone following `GET /v1/events` (Server-Sent Events; docs/API.md): watching
// started or stopped, a change seen in a watched folder, pushes and pulls (by hand, on save, or following
// the remote), conflicts, the remote moving, keys locked. Each event is one SSE message whose `event:` is
// the type and whose `data:` is this JSON object; `id` counts up from 1 for the agent's life.
import { z } from 'zod';

const Timestamp = z.string().regex(/^\d{8}-\d{6}$/);

const base = {
  /** Counts up from 1 for the agent's life; the SSE message's `id:` too. */
  id: z.number().int().positive(),
  /** When it happened, ISO 8601 UTC. */
  at: z.string(),
};

/** The vault an event is about: repo and env, and the checkout (repo root) on this machine. */
const vault = { repo: z.string(), env: z.string(), root: z.string() };

/** Who asked: a command or an API call, a save in a watched folder, or the remote moving under `--follow`. */
export const TriggerSchema = z.enum(['manual', 'watch', 'follow']);
export type Trigger = z.infer<typeof TriggerSchema>;

const failure = { code: z.string(), message: z.string() };

export const AgentEventSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...base, type: z.literal('watch-started'), ...vault, follow: z.boolean() }),
  z.strictObject({ ...base, type: z.literal('watch-stopped'), ...vault }),
  /** A watched folder differs from the version this checkout last synced: a push will follow. */
  z.strictObject({ ...base, type: z.literal('change-seen'), ...vault }),
  z.strictObject({ ...base, type: z.literal('push-started'), ...vault, trigger: TriggerSchema }),
  z.strictObject({ ...base, type: z.literal('push-finished'), ...vault, trigger: TriggerSchema, version: Timestamp }),
  /** `retryInMs`: an automatic push that failed for a passing reason (the store unreachable) tries again. */
  z.strictObject({
    ...base,
    type: z.literal('push-failed'),
    ...vault,
    trigger: TriggerSchema,
    ...failure,
    retryInMs: z.number().int().positive().optional(),
  }),
  z.strictObject({ ...base, type: z.literal('pull-started'), ...vault, trigger: TriggerSchema }),
  z.strictObject({ ...base, type: z.literal('pull-finished'), ...vault, trigger: TriggerSchema, version: Timestamp }),
  z.strictObject({ ...base, type: z.literal('pull-failed'), ...vault, trigger: TriggerSchema, ...failure }),
  /**
   * An automatic push or pull cannot go on until the user acts: the keys are locked (KEY_LOCKED), or the
   * watched folder is gone (VAULT_FOLDER_MISSING). Nothing is lost; it goes on once the cause is gone.
   */
  z.strictObject({ ...base, type: z.literal('waiting'), ...vault, ...failure }),
  /**
   * The remote and this checkout went separate ways: a push on save met a remote that moved (VAULT_CONFLICT),
   * or the remote moved under `--follow` while the folder holds unpushed edits (VAULT_UNPUSHED_CHANGES).
   * Nothing is pushed or pulled until the user pulls or forces.
   */
  z.strictObject({ ...base, type: z.literal('conflict'), ...vault, ...failure, remote: Timestamp.optional() }),
  /** `--follow` saw `latest` name a version this checkout does not hold. */
  z.strictObject({ ...base, type: z.literal('remote-moved'), ...vault, version: Timestamp }),
  z.strictObject({ ...base, type: z.literal('locked'), dropped: z.number().int().nonnegative() }),
  /**
   * A store call failed for a passing reason and is tried again (`attempt` is the one that failed): why a
   * push or pull is slow. `what` names the call and the object (`put acme_web/dev/latest`).
   */
  z.strictObject({ ...base, type: z.literal('storage-retry'), what: z.string(), attempt: z.number().int().positive(), ...failure }),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export type AgentEventType = AgentEvent['type'];

/** An event as the agent raises it, before it is numbered and dated. */
export type AgentEventInput = AgentEvent extends infer E ? (E extends AgentEvent ? Omit<E, 'id' | 'at'> : never) : never;
