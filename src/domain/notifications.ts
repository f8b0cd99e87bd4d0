/**
 * Messages to customers. Every message is first a row in notification_outbox and is then
 * delivered by the `deliverNotification` workflow, which retries with backoff until the
 * transport accepts it.
 */
export const TEMPLATES = {
  welcome: (p: Record<string, unknown>) => ({
    subject: 'Welcome',
    text: `Hello ${String(p.name ?? '')},\n\nwelcome! Your customer account has been created.\n`,
  }),
} satisfies Record<string, (payload: Record<string, unknown>) => { subject: string; text: string }>;
export type TemplateName = keyof typeof TEMPLATES;

export function renderTemplate(template: string, payload: Record<string, unknown>): { subject: string; text: string } {
  const render = (TEMPLATES as Record<string, (p: Record<string, unknown>) => { subject: string; text: string }>)[template];
  if (!render) return { subject: template, text: JSON.stringify(payload, null, 2) };
  return render(payload);
}

export interface DeliverNotificationInput {
  messageId: string;
}

export function notificationWorkflowId(messageId: string): string {
  return `notify-${messageId}`;
}
