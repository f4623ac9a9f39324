/**
 * A template as registered with `campaign template add` (or `template sync`): the copy approved in
 * WhatsApp Manager, kept so that every row's parameters can be checked at ingest, before anything is sent.
 */
export type TemplateCategory = 'marketing' | 'utility' | 'authentication';
export type HeaderFormat = 'text' | 'image' | 'video' | 'document';

export interface TemplateDef {
  name: string;
  language: string;
  category: TemplateCategory;
  body: string;
  /** The header's text when `headerFormat` is 'text'; it may hold one placeholder. */
  headerText: string | null;
  headerFormat: HeaderFormat | null;
  /** A URL button whose dynamic suffix is slot `button.0`. */
  urlButton: boolean;
  /** 'named' when the placeholders are `{{first_name}}`, 'positional' when `{{1}}..{{n}}`. */
  parameterFormat: 'positional' | 'named';
  /**
   * Every parameter slot in send order: header first, then body placeholders in order of first
   * appearance, then the button. Names are `header.1` (a text placeholder or a media link),
   * `body.1` / `body.first_name`, `button.0`.
   */
  slots: string[];
}

/** slot name → the value taken from the row, exactly as the marketer wrote it. */
export type TemplateParams = Record<string, string>;
