/**
 * Messages to customers. Every message is first a row in notification_outbox and is then
 * delivered by the `deliverNotification` workflow, which retries with backoff until the
 * transport accepts it.
 */
import { CONSENT_TEXTS, OPT_IN_TEXT_VERSION } from './consent.js';
export const TEMPLATES = {
  welcome: (p: Record<string, unknown>) => ({
    subject: 'Welcome',
    text: `Hello ${String(p.name ?? '')},\n\nwelcome! Your customer account has been created.\n`,
  }),
  // Acquisition: to the lead's owner, then to backoffice when the contact SLA is missed twice.
  'lead-contact-reminder': (p: Record<string, unknown>) => ({
    subject: `Reminder: contact lead ${String(p.name ?? '')}`,
    text: `The lead ${String(p.name ?? '')}${p.company ? ` (${String(p.company)})` : ''} has not been contacted within its SLA.\nLead: /v1/leads/${String(p.leadId ?? '')}\n`,
  }),
  'lead-contact-escalation': (p: Record<string, unknown>) => ({
    subject: `Escalation: lead ${String(p.name ?? '')} still not contacted`,
    text: `The lead ${String(p.name ?? '')}${p.company ? ` (${String(p.company)})` : ''}, owned by ${String(p.owner ?? '')}, missed its contact SLA twice.\nLead: /v1/leads/${String(p.leadId ?? '')}\n`,
  }),
  // Onboarding: double opt-in, the account manager's task, welcome, check-in.
  'onboarding-opt-in': (p: Record<string, unknown>) => ({
    subject: 'Please confirm your e-mail address',
    text:
      `Hello ${String(p.name ?? '')},\n\nyour confirmation code is ${String(p.code ?? '')}.\n\n` +
      `${CONSENT_TEXTS[OPT_IN_TEXT_VERSION]} (${OPT_IN_TEXT_VERSION})\n`,
  }),
  'onboarding-first-contact-task': (p: Record<string, unknown>) => ({
    subject: `New customer: please get in touch with ${String(p.customerName ?? '')}`,
    text: `You are the account manager of ${String(p.customerName ?? '')} <${String(p.customerEmail ?? '')}>.\nRecord the first contact as an interaction: /v1/customers/${String(p.customerId ?? '')}/interactions\n`,
  }),
  'onboarding-first-contact-reminder': (p: Record<string, unknown>) => ({
    subject: `Overdue: first contact with ${String(p.customerName ?? '')}`,
    text: `The first contact with ${String(p.customerName ?? '')} is overdue.\n`,
  }),
  'onboarding-welcome': (p: Record<string, unknown>) => ({
    subject: 'Your e-mail address is confirmed',
    text: `Hello ${String(p.name ?? '')},\n\nthank you for confirming. Your account manager is ${String(p.accountManager ?? '')}.\n`,
  }),
  'onboarding-check-in': (p: Record<string, unknown>) => ({
    subject: 'How are you getting on?',
    text: `Hello ${String(p.name ?? '')},\n\nit has been two weeks: is everything working for you? Just reply to ${String(p.accountManager ?? '')}.\n`,
  }),
  'onboarding-stalled': (p: Record<string, unknown>) => ({
    subject: `Onboarding stalled: ${String(p.customerName ?? '')}`,
    text: `The onboarding of ${String(p.customerName ?? '')} stalled: ${String(p.reasons ?? '')}.\n`,
  }),
  // Tasks: to the person a task was handed to (opened, escalated to them).
  'task-assigned': (p: Record<string, unknown>) => ({
    subject: `${p.escalated ? 'Escalated to you' : 'New task'}: ${String(p.title ?? '')}`,
    text: `${p.escalated ? `This task is overdue (${String(p.reason ?? '')}) and now yours.` : 'A task for you.'}\nDue: ${String(p.dueAt ?? '')}\nTask: /v1/tasks/${String(p.taskId ?? '')}\n`,
  }),
  // Master data: the code goes only into the rendered message (the outbox payload has no code).
  'verification-code': (p: Record<string, unknown>) => ({
    subject: 'Your confirmation code',
    text:
      `Your confirmation code is ${String(p.code ?? '')}.\n\n` +
      `It confirms your ${p.purpose === 'export' ? 'request for a copy of your data' : p.purpose === 'erasure' ? 'request to erase your data' : 'change of your customer data'} ` +
      `and is valid until ${String(p.expiresAt ?? '')}. Never share it with anyone who calls you.\n`,
  }),
  'contact-change-notice': (p: Record<string, unknown>) => ({
    subject: 'A change of your contact details was requested',
    text: `A change of your ${String(p.field ?? 'contact details')} was requested. It takes effect only once it is confirmed from the new contact point and from this one (with the code we sent here).\nIf this was not you, contact us at once and quote ${String(p.changeId ?? '')}.\n`,
  }),
  'contact-change-stop': (p: Record<string, unknown>) => ({
    subject: 'Your contact details were changed',
    text: `Your ${String(p.field ?? 'contact details')} was changed (request ${String(p.changeId ?? '')}). If this was not you, stop it until ${String(p.until ?? '')} with this link (POST): ${String(p.link ?? '')}\nThe old ${String(p.field ?? 'contact details')} is then restored.\n`,
  }),
  'contact-change-reverted': (p: Record<string, unknown>) => ({
    subject: 'A change of contact details was reverted',
    text: `The change of the ${String(p.field ?? 'contact details')} to this contact point (request ${String(p.changeId ?? '')}) was stopped from the previous one and reverted. Messages go there again.\n`,
  }),
  'master-data-applied': (p: Record<string, unknown>) => ({
    subject: 'Your customer data was updated',
    text: `We updated your ${(p.fields as string[] | undefined)?.join(', ') ?? 'data'} (request ${String(p.changeId ?? '')}).\nIf this was not you, contact us at once.\n`,
  }),
  'master-data-failed': (p: Record<string, unknown>) => ({
    subject: 'Your change request was not completed',
    text: `Your request to change your ${(p.fields as string[] | undefined)?.join(', ') ?? 'data'} was not completed: ${String(p.reason ?? '')}.\nNothing was changed.\n`,
  }),
  'approval-needed': (p: Record<string, unknown>) => ({
    subject: `${p.escalated ? 'Overdue: ' : ''}change ${String(p.changeId ?? '')} waits for approval`,
    text: `Change request ${String(p.changeId ?? '')} of customer ${String(p.customerId ?? '')} (${(p.fields as string[] | undefined)?.join(', ') ?? ''}) needs a second person's approval${p.escalated ? `; it has waited since ${String(p.since ?? '')}` : ''}.\nDecide: POST /v1/changes/${String(p.changeId ?? '')}/approval\n`,
  }),
  'gdpr-export-ready': (p: Record<string, unknown>) => ({
    subject: 'Your data export is ready',
    text: `The copy of your data you asked for (request ${String(p.requestId ?? '')}) is ready and can be fetched once until ${String(p.until ?? '')}${p.link ? ` through this link: ${String(p.link)}` : ''}.\nNobody at our company can fetch it for you.\n`,
  }),
  'gdpr-erasure-scheduled': (p: Record<string, unknown>) => ({
    subject: 'Your data will be erased',
    text: `As you asked (request ${String(p.requestId ?? '')}), your personal data will be erased on ${String(p.at ?? '')}. Until then you can cancel the erasure${p.link ? ` with this link: ${String(p.link)} (POST)` : ' by contacting us'}.\n`,
  }),
  'gdpr-erasure-cancelled': (p: Record<string, unknown>) => ({
    subject: 'The erasure of your data was cancelled',
    text: `The erasure of your data (request ${String(p.requestId ?? '')}) was cancelled; your customer account stays as it is.\n`,
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

/**
 * Every template is either a service message (codes, confirmations, notices about the customer's
 * own account or requests, messages to staff), which needs no consent, or marketing, which goes
 * out only with the customer's marketing consent for its channel and carries an unsubscribe link.
 * This table is the one place that says which.
 */
export const TEMPLATE_PURPOSE: Record<TemplateName, 'service' | 'marketing'> = {
  welcome: 'service',
  'lead-contact-reminder': 'service',
  'lead-contact-escalation': 'service',
  'onboarding-opt-in': 'service',
  'onboarding-first-contact-task': 'service',
  'onboarding-first-contact-reminder': 'service',
  'task-assigned': 'service',
  'onboarding-welcome': 'service',
  'onboarding-check-in': 'service',
  'onboarding-stalled': 'service',
  'verification-code': 'service',
  'contact-change-notice': 'service',
  'master-data-applied': 'service',
  'contact-change-stop': 'service',
  'contact-change-reverted': 'service',
  'master-data-failed': 'service',
  'approval-needed': 'service',
  'gdpr-export-ready': 'service',
  'gdpr-erasure-scheduled': 'service',
  'gdpr-erasure-cancelled': 'service',
  'campaign-checkin': 'marketing',
  'campaign-winback': 'marketing',
  'campaign-loyalty': 'marketing',
  offer: 'marketing',
  'offer-confirmation': 'service',
};

/** A template this table does not know is treated as marketing: consent is asked for rather than assumed. */
export function messagePurpose(template: string): 'service' | 'marketing' {
  return (TEMPLATE_PURPOSE as Record<string, 'service' | 'marketing'>)[template] ?? 'marketing';
}

export function renderTemplate(template: string, payload: Record<string, unknown>): { subject: string; text: string } {
  const render = (TEMPLATES as Record<string, (p: Record<string, unknown>) => { subject: string; text: string }>)[template];
  const rendered = render ? render(payload) : { subject: template, text: JSON.stringify(payload, null, 2) };
  // Every marketing message says how to object (UWG §7(3)); the link is added at sending, never stored.
  if (messagePurpose(template) === 'marketing' && typeof payload.unsubscribeUrl === 'string') {
    rendered.text += `\n--\nYou receive this because you agreed to our news and offers. To stop them, open: ${payload.unsubscribeUrl}\n`;
  }
  return rendered;
}

export interface DeliverNotificationInput {
  messageId: string;
}

export function notificationWorkflowId(messageId: string): string {
  return `notify-${messageId}`;
}
