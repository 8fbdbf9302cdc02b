// OpenShell sandbox preload (loaded with NODE_OPTIONS=--import by the supervisor when the child is
// not isolated). Node's built-in fetch ignores HTTP(S)_PROXY, so Node programs such as the
// Anthropic and OpenAI SDKs would try to resolve `inference.local` themselves and fail. This sets
// the global fetch dispatcher to a proxy agent that reads HTTP_PROXY/HTTPS_PROXY/NO_PROXY; the
// sandbox CA is already trusted through NODE_EXTRA_CA_CERTS. It holds no secret.
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

if (process.env.HTTPS_PROXY || process.env.HTTP_PROXY || process.env.https_proxy || process.env.http_proxy) {
  setGlobalDispatcher(new EnvHttpProxyAgent());
}
