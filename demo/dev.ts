// `npm start`: the gateway on the shipped development config and the demo backend, in one process,
// so a fresh clone needs nothing else running (without Redis the dev config falls back to memory).
import { resolve } from 'node:path';
import { startGateway } from '../src/main.js';
import { createCredentialCheck, listenOn, startDemoBackend } from './backend.js';

const gateway = await startGateway({ configPath: resolve(process.env.GATEWAY_CONFIG ?? 'config/gateway.yaml') });
const demo = await startDemoBackend(Number(process.env.DEMO_PORT ?? 9001), '127.0.0.1', {
  jwksUrl: `${gateway.adminUrl}/.well-known/jwks.json`,
  issuer: gateway.config.gateway.tokens.issuer,
});
// On its own port, which no route points at (login.verifyUrl in config/gateway.yaml).
const verify = await listenOn(createCredentialCheck(), Number(process.env.DEMO_VERIFY_PORT ?? 9002));
gateway.logger.info(
  {
    demoBackend: demo.url,
    public: `curl -s ${gateway.url}/demo/hello`,
    signIn: `curl -s -c jar -H 'content-type: application/json' -d '{"username":"alice","password":"alice-password"}' ${gateway.url}/auth/login`,
    protected: `curl -s -b jar ${gateway.url}/app/hello`,
    browser: `${gateway.url}/app/hello`,
  },
  'development gateway ready: try these',
);
process.on('SIGHUP', () => void gateway.reloadRoutes());
const stop = () => void gateway.shutdown().then(() => verify.server.close(() => demo.server.close(() => process.exit(0))));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
