/**
 * Config variants the cdktf stack tests synthesize besides the repository's own: the repository pins no
 * model and configures no API token, so the serving services, their alerts and the API secrets only
 * appear in the "served" variant.
 */
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, type ProjectConfig } from '../../config/schema';

/** The variable the served variant names in parser.json ingestion.auth.token_env. */
export const TOKEN_ENV = 'CUSTOMERS_API_TOKEN';
export const PINNED_VERSION = 'v3';

export function repoConfig(): ProjectConfig {
  return loadProjectConfig('config');
}

/** Every environment pins PINNED_VERSION and the REST source needs a token from TOKEN_ENV. */
export function servedConfig(base: ProjectConfig = repoConfig()): ProjectConfig {
  const config = structuredClone(base);
  for (const env of ENVIRONMENTS) config.environments[env].model_version = PINNED_VERSION;
  config.parser.ingestion.auth = { header: 'Authorization', scheme: 'Bearer', token_env: TOKEN_ENV };
  return config;
}
