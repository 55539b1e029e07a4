import { ConfigError } from '../../config/load';
import type { EnvironmentConfig, ParserConfig } from '../../config/schema';

/**
 * The variable the deployed ingestion job reads its API token from (parser.json ingestion.auth.token_env),
 * or undefined when the source needs no token. The stacks fill it from the cloud's secret store; a token
 * file cannot be mounted by every platform, so auth with only token_file is refused.
 */
export function deployedTokenEnv(parser: ParserConfig): string | undefined {
  const auth = parser.ingestion.auth;
  if (!auth) return undefined;
  if (auth.token_env) return auth.token_env;
  throw new ConfigError([
    {
      file: 'config/parser.json',
      keyPath: 'ingestion.auth.token_env',
      message:
        `auth gives only token_file ("${auth.token_file}"), but the deployed ingestion job receives the API token as an ` +
        'environment variable filled from the secret: set token_env (e.g. "API_TOKEN")',
    },
  ]);
}

/** A serving service is declared only for a pinned version; `latest` is not a pin (nothing rolls out when it moves). */
export function pinnedModelVersion(env: EnvironmentConfig): string | undefined {
  const version = env.model_version;
  return version && version !== 'latest' ? version : undefined;
}
