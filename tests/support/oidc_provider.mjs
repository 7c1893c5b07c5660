// A real OpenID provider (the npm package oidc-provider) for the tests, on 127.0.0.1.
//
// Usage: node oidc_provider.mjs CONFIG.json   (prints "LISTENING <port>" once it accepts requests)
// CONFIG: {"port": 0, "client_id": "...", "account": "...", "device_code_ttl": 600,
//          "cookie_key": "...", "tls_cert": null, "tls_key": null}   (PEM paths: HTTPS)
//
// The device flow is enabled for one public client (no client secret) that may use the device
// code and refresh token grants; offline_access yields refresh tokens.  The verification pages
// are the provider's own; only the interaction step (where a real provider would ask for a
// password and for consent) is automatic: it signs in CONFIG.account and grants the scopes the
// device asked for.  This is test scaffolding, never part of regauth.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import Provider from 'oidc-provider';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

const tls = Boolean(config.tls_cert);
const server = tls
  ? https.createServer({ cert: fs.readFileSync(config.tls_cert), key: fs.readFileSync(config.tls_key) })
  : http.createServer();
server.listen(config.port || 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: config.client_id,
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    }],
    scopes: ['openid', 'offline_access'],
    features: {
      deviceFlow: { enabled: true },
      devInteractions: { enabled: false },
      revocation: { enabled: true },
    },
    ttl: { DeviceCode: config.device_code_ttl || 600 },
    rotateRefreshToken: false,
    cookies: { keys: [config.cookie_key] },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id }),
    }),
  });
  const callback = provider.callback();

  server.on('request', async (req, res) => {
    if (!req.url.startsWith('/interaction/')) {
      callback(req, res);
      return;
    }
    try {
      const details = await provider.interactionDetails(req, res);
      const accountId = config.account;
      const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
      grant.addOIDCScope(details.params.scope || 'openid');
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err));
    }
  });
  process.stdout.write(`LISTENING ${port}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
