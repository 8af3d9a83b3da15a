import table from '../topics.json';

export interface TopicAccess {
  name: string;
  publishers: string[];
  subscribers: string[];
  deadLetter?: string;
}

export const topicAccess: { apps: string[]; topics: TopicAccess[] } = table;

/**
 * The pub/sub component's `publishingScopes` and `subscriptionScopes` (Dapr's `app=topic,topic;app=` format) from
 * topics.json, with each topic under `prefix` (test runs and private stacks namespace their topics). Every app is
 * listed, so an app with no topics may publish or receive none. A subscriber's sidecar also publishes its dead letters,
 * and receives them again (see subscriptionRouter: they are delivered once more once the app is back).
 */
export function pubsubScopes(prefix = ''): { publishing: string; subscription: string } {
  const named = (topic: string) => (prefix ? `${prefix}-${topic}` : topic);
  const scopes = (topicsOf: (app: string) => string[]) =>
    topicAccess.apps.map((app) => `${app}=${topicsOf(app).map(named).join(',')}`).join(';');
  return {
    publishing: scopes((app) => topicAccess.topics.flatMap((t) => [
      ...(t.publishers.includes(app) ? [t.name] : []),
      ...(t.subscribers.includes(app) && t.deadLetter ? [t.deadLetter] : []),
    ])),
    subscription: scopes((app) => topicAccess.topics.filter((t) => t.subscribers.includes(app)).flatMap((t) => [t.name, ...(t.deadLetter ? [t.deadLetter] : [])])),
  };
}
