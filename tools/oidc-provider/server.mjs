// A real OpenID Connect provider (panva/node-oidc-provider, the certified implementation)
// for PostVault's tests, on loopback. Usage: node server.mjs CONFIG.json
//
// CONFIG.json: {"port": 0 | N, "clients": [...oidc-provider client metadata...],
//   "accounts": {"<login>": {"email": ..., "email_verified": true, "name": ..., "groups": [...]}},
//   "id_token_ttl": seconds}
// Accounts are read from the file at every sign-in, so a test can change someone's groups
// between two sign-ins. The login and consent screens are
// oidc-provider's own development interactions: any password is accepted for a known login.
// Prints "listening <issuer>" once it answers.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const configPath = process.argv[2];
const read = () => JSON.parse(readFileSync(configPath, 'utf8'));
const config = read();

const server = http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients,
    pkce: { required: () => true },
    // `scopes` in the config adds an application's own scopes (Meta's pages_show_list, …).
    scopes: ['openid', 'email', 'profile', 'groups', ...(config.scopes || [])],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    ttl: { IdToken: config.id_token_ttl || 3600 },
    cookies: { keys: ['postvault-test-provider-cookie-key'] },
    async findAccount(ctx, id) {
      const account = (read().accounts || {})[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { ...account, sub: id };
        },
      };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(`listening ${issuer}`);
});
