/**
 * Search attributes: how operators find a transfer or a submission in the Temporal Web UI
 * (e.g. `GP2GP_PracticeOds = "A12345" AND GP2GP_SubmissionStatus = "failed"`). Registered at start-up
 * on any cluster; the names are the public query vocabulary, so they never change.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** name → Temporal type, as the CLI's `--search-attribute NAME=TYPE` and the operator API take them. */
export const SEARCH_ATTRIBUTES = {
  GP2GP_PracticeOds: 'Keyword',
  GP2GP_Side: 'Keyword',
  GP2GP_ConversationId: 'Keyword',
  GP2GP_RegistrationId: 'Keyword',
  GP2GP_Stage: 'Keyword',
  GP2GP_Outcome: 'Keyword',
  GP2GP_SubmissionStatus: 'Keyword',
  GP2GP_MiDays: 'KeywordList',
  /** A transfer's posts to the GP Registrations MI API: ok | pending | failed (only when its outputs include api). */
  GP2GP_ApiDelivery: 'Keyword',
} as const;

export const practiceOdsKey = defineSearchAttributeKey('GP2GP_PracticeOds', SearchAttributeType.KEYWORD);
export const sideKey = defineSearchAttributeKey('GP2GP_Side', SearchAttributeType.KEYWORD);
export const conversationIdKey = defineSearchAttributeKey('GP2GP_ConversationId', SearchAttributeType.KEYWORD);
export const registrationIdKey = defineSearchAttributeKey('GP2GP_RegistrationId', SearchAttributeType.KEYWORD);
export const stageKey = defineSearchAttributeKey('GP2GP_Stage', SearchAttributeType.KEYWORD);
export const outcomeKey = defineSearchAttributeKey('GP2GP_Outcome', SearchAttributeType.KEYWORD);
export const submissionStatusKey = defineSearchAttributeKey('GP2GP_SubmissionStatus', SearchAttributeType.KEYWORD);
export const miDaysKey = defineSearchAttributeKey('GP2GP_MiDays', SearchAttributeType.KEYWORD_LIST);
export const apiDeliveryKey = defineSearchAttributeKey('GP2GP_ApiDelivery', SearchAttributeType.KEYWORD);
