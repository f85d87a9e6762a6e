// client.ts — the directory's API client: openapi-fetch over the types that openapi-typescript
// generates from api/openapi.yaml (src/generated/api.d.ts, made by `npm run types`). `tsc
// --noEmit` checks every path, parameter, header and field used here against the spec, so a
// change of the contract that breaks this page fails the build, not the browser.
import createClient from 'openapi-fetch';
import type { components, operations, paths } from './generated/api';

export type AgencyType = components['schemas']['AgencyType'];
export type AgencyLevel = components['schemas']['AgencyLevel'];
export type AgencyStatus = components['schemas']['AgencyStatus'];
export type Problem = components['schemas']['Problem'];
/** A row of the list: anonymous callers get the public view; fields common to both views. */
export type DirectoryRow = components['schemas']['AgencyList']['data'][number];
export type Lang = 'es' | 'en';

type ListQuery = NonNullable<operations['listAgencies']['parameters']['query']>;
/** The filters this page offers, typed as the operation's own query parameters. */
export type DirectoryFilters = Pick<ListQuery, 'state' | 'type' | 'status' | 'q'>;

export interface DirectoryPage {
  rows: DirectoryRow[];
  nextCursor: string | null;
}

/** The API answered with an RFC 9457 problem (in the language asked for). */
export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

/** A client of the public directory at baseUrl (an origin; '' for the page's own). */
export function directoryClient(baseUrl: string) {
  // JSON media types only (application/json, application/problem+json): the list's CSV
  // answer is for spreadsheets, and the page never asks for it.
  const client = createClient<paths, `${string}/${string}json`>({ baseUrl });
  return {
    /** One page of the directory: anonymous, public view, sorted by name. */
    async page(filters: DirectoryFilters, lang: Lang, limit: number, cursor?: string): Promise<DirectoryPage> {
      const { data, error } = await client.GET('/v1/agencies', {
        params: {
          query: { ...filters, limit, cursor, sort: 'name' },
          header: { 'Accept-Language': lang },
        },
      });
      if (error !== undefined) throw new ApiProblem(error);
      return { rows: data.data, nextCursor: data.next_cursor };
    },
  };
}
