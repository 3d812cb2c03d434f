# keelson's production image. It runs the TypeScript sources directly on Node 24 (type stripping),
# so there is no build stage beyond installing the runtime dependencies.
# Build: docker build -t keelson:<version> .   (the charts/keelson stack runs it on the Swarm)
FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client gnupg ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/keelson
COPY package.json package-lock.json ./
# miniflare (workerd), mongodb, Qdrant's and OpenID clients serve only simulators, Worker tests, the
# services and the Secrets UI: none of them is in the image (scripts/build-image.sh does the same).
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm uninstall --omit=dev --no-audit --no-fund miniflare mongodb @qdrant/js-client-rest openid-client \
 && npm cache clean --force
COPY bin ./bin
COPY reconciler ./reconciler
COPY providers ./providers
COPY charts ./charts
COPY workers ./workers
# State (file backend) and the Git checkout live on a volume owned by the image's user (uid 1000),
# so a fresh named volume mounted there is writable by a plain `docker run`.
RUN mkdir -p /var/lib/keelson && chown node:node /var/lib/keelson && chmod 0750 /var/lib/keelson
VOLUME /var/lib/keelson
ENV KEELSON_STATE_PATH=/var/lib/keelson/state.json KEELSON_CHECKOUT_DIR=/var/lib/keelson/checkout \
    KEELSON_HTTP_HOST=0.0.0.0 NODE_ENV=production
USER node
EXPOSE 8080
# The port from KEELSON_HTTP_PORT, as the charts/keelson health check reads it.
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+(process.env.KEELSON_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/opt/keelson/bin/keelson.js"]
CMD ["serve"]
