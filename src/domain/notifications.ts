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
  // Retention: campaign messages and offers (with their confirmation).
  'campaign-checkin': (p: Record<string, unknown>) => ({
    subject: 'How are things going?',
    text: `Hello ${String(p.name ?? '')},\n\nwe would like to hear how you are getting on with your products. Just reply to this message.\n`,
  }),
  'campaign-winback': (p: Record<string, unknown>) => ({
    subject: 'We miss you',
    text: `Hello ${String(p.name ?? '')},\n\nit has been a while. Have a look at what is new for you.\n`,
  }),
  'campaign-loyalty': (p: Record<string, unknown>) => ({
    subject: 'Thank you for staying with us',
    text: `Hello ${String(p.name ?? '')},\n\nthank you for being our customer. As a thank-you, watch out for an offer made for you.\n`,
  }),
  offer: (p: Record<string, unknown>) => ({
    subject: `${String(p.label ?? 'An offer')} for you: ${String(p.productName ?? '')}`,
    text: `Hello ${String(p.name ?? '')},\n\nwe can offer you ${String(p.productName ?? '')} for ${String(p.price ?? '')} a month. The offer is valid until ${String(p.validUntil ?? '')}.\nOffer: ${String(p.offerId ?? '')}\n`,
  }),
  'offer-confirmation': (p: Record<string, unknown>) => ({
    subject: `Confirmed: ${String(p.productName ?? '')}`,
    text: `Hello ${String(p.name ?? '')},\n\nyou accepted our offer: ${String(p.productName ?? '')} for ${String(p.price ?? '')} a month${p.replaces ? `, replacing ${String(p.replaces)}` : ''}.\nOffer: ${String(p.offerId ?? '')}\n`,
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
