// i18n.ts — the page's own texts in Spanish and English. The names of types, levels and
// statuses are records over the spec's enums: when the spec adds a value, tsc asks for its
// label here.
import type { AgencyLevel, AgencyStatus, AgencyType, Lang } from './client';

export interface Texts {
  ui: {
    title: string;
    intro: string;
    state: string;
    type: string;
    status: string;
    q: string;
    any: string;
    search: string;
    name: string;
    level: string;
    accredited_on: string;
    expires_on: string;
    first: string;
    prev: string;
    next: string;
    page: (n: number, rows: number) => string;
    empty: string;
    loading: string;
    network: string;
    footer: string;
  };
  type: Record<AgencyType, string>;
  level: Record<AgencyLevel, string>;
  status: Record<AgencyStatus, string>;
}

export const TEXTS: Record<Lang, Texts> = {
  es: {
    ui: {
      title: 'Directorio de agencias acreditadas',
      intro: 'Agencias de seguridad pública de México que tienen o tuvieron una acreditación CALEA.',
      state: 'Estado',
      type: 'Tipo',
      status: 'Estatus',
      q: 'Nombre',
      any: 'Todos',
      search: 'Buscar',
      name: 'Agencia',
      level: 'Nivel',
      accredited_on: 'Acreditada el',
      expires_on: 'Vence el',
      first: 'Primera página',
      prev: 'Anterior',
      next: 'Siguiente',
      page: (n, rows) => `Página ${n} · ${rows} ${rows === 1 ? 'agencia' : 'agencias'}`,
      empty: 'Ninguna agencia coincide con los filtros.',
      loading: 'Cargando…',
      network: 'No se pudo consultar la API',
      footer: 'Datos de la API de Acredita (GET /v1/agencies, vista pública).',
    },
    type: {
      law_enforcement: 'Policía',
      training_academy: 'Academia de formación',
      communications_center: 'Centro de comunicaciones',
    },
    level: { municipal: 'Municipal', state: 'Estatal', federal: 'Federal' },
    status: {
      applied: 'Solicitud',
      approved: 'Aprobada',
      enrolled: 'Inscrita',
      self_assessment: 'Autoevaluación',
      pre_assessment: 'Preevaluación',
      site_assessment: 'Evaluación en sitio',
      awaiting_hearing: 'En espera de audiencia',
      accredited: 'Acreditada',
      conditionally_accredited: 'Acreditada con condiciones',
      reaccreditation: 'En reacreditación',
      probation: 'A prueba',
      suspended: 'Suspendida',
      expired: 'Acreditación vencida',
      withdrawn: 'Retirada',
      removed: 'Dada de baja',
      revoked: 'Revocada',
    },
  },
  en: {
    ui: {
      title: 'Directory of accredited agencies',
      intro: "Mexico's public-safety agencies that hold or held a CALEA accreditation.",
      state: 'State',
      type: 'Type',
      status: 'Status',
      q: 'Name',
      any: 'All',
      search: 'Search',
      name: 'Agency',
      level: 'Level',
      accredited_on: 'Accredited on',
      expires_on: 'Expires on',
      first: 'First page',
      prev: 'Previous',
      next: 'Next',
      page: (n, rows) => `Page ${n} · ${rows} ${rows === 1 ? 'agency' : 'agencies'}`,
      empty: 'No agency matches the filters.',
      loading: 'Loading…',
      network: 'The API could not be reached',
      footer: "Data from Acredita's API (GET /v1/agencies, public view).",
    },
    type: {
      law_enforcement: 'Law enforcement',
      training_academy: 'Training academy',
      communications_center: 'Communications center',
    },
    level: { municipal: 'Municipal', state: 'State', federal: 'Federal' },
    status: {
      applied: 'Applied',
      approved: 'Approved',
      enrolled: 'Enrolled',
      self_assessment: 'Self-assessment',
      pre_assessment: 'Pre-assessment',
      site_assessment: 'Site assessment',
      awaiting_hearing: 'Awaiting hearing',
      accredited: 'Accredited',
      conditionally_accredited: 'Conditionally accredited',
      reaccreditation: 'Reaccreditation',
      probation: 'Probation',
      suspended: 'Suspended',
      expired: 'Accreditation expired',
      withdrawn: 'Withdrawn',
      removed: 'Removed',
      revoked: 'Revoked',
    },
  },
};

/** Mexico's 32 federal entities (ISO 3166-2:MX), by their own names. */
export const STATES: ReadonlyArray<readonly [code: string, name: string]> = [
  ['MX-AGU', 'Aguascalientes'],
  ['MX-BCN', 'Baja California'],
  ['MX-BCS', 'Baja California Sur'],
  ['MX-CAM', 'Campeche'],
  ['MX-CHP', 'Chiapas'],
  ['MX-CHH', 'Chihuahua'],
  ['MX-CMX', 'Ciudad de México'],
  ['MX-COA', 'Coahuila'],
  ['MX-COL', 'Colima'],
  ['MX-DUR', 'Durango'],
  ['MX-GUA', 'Guanajuato'],
  ['MX-GRO', 'Guerrero'],
  ['MX-HID', 'Hidalgo'],
  ['MX-JAL', 'Jalisco'],
  ['MX-MEX', 'Estado de México'],
  ['MX-MIC', 'Michoacán'],
  ['MX-MOR', 'Morelos'],
  ['MX-NAY', 'Nayarit'],
  ['MX-NLE', 'Nuevo León'],
  ['MX-OAX', 'Oaxaca'],
  ['MX-PUE', 'Puebla'],
  ['MX-QUE', 'Querétaro'],
  ['MX-ROO', 'Quintana Roo'],
  ['MX-SLP', 'San Luis Potosí'],
  ['MX-SIN', 'Sinaloa'],
  ['MX-SON', 'Sonora'],
  ['MX-TAB', 'Tabasco'],
  ['MX-TAM', 'Tamaulipas'],
  ['MX-TLA', 'Tlaxcala'],
  ['MX-VER', 'Veracruz'],
  ['MX-YUC', 'Yucatán'],
  ['MX-ZAC', 'Zacatecas'],
];
