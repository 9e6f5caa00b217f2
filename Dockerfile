# envhooks: one image, three roles (ENVHOOKS_ROLE=all|web|worker). docs/deploy.md shows how to run it.
#   docker build -t envhooks .
# CI builds this file unchanged on a stand-in base: --build-arg BASE_IMAGE=<a local Node 24 image>.
ARG BASE_IMAGE=node:24-bookworm-slim

# 1. Production dependencies only, exactly as the lockfile says (the `node` devDependency and the
#    test tools stay out). No install scripts: no production dependency needs one.
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 2. src/ as JavaScript (scripts/build.ts, Node's own type stripping done once): Node would strip the
#    types at each start, and hold its stripper in memory for it (20-26 MB per thread).
FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json ./
COPY scripts/build.ts ./scripts/
COPY src ./src
RUN node --disable-warning=ExperimentalWarning scripts/build.ts

# 3. The runtime.
FROM ${BASE_IMAGE}
# OCI annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md). VERSION is
# package.json's (test:deploy checks they agree); package.json declares no licence yet, hence npm's
# UNLICENSED until it does.
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="envhooks" \
      org.opencontainers.image.description="Environment lifecycle activities for GitHub, relayed to webhooks and chat" \
      org.opencontainers.image.source="https://github.com/envhooks/envhooks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="UNLICENSED"

# A fixed uid, so volumes and Kubernetes' runAsUser agree with the image. /data is the user's
# only (700): envhooks refuses a data folder other users can open, and a new volume copies it.
RUN groupadd --gid 10001 envhooks \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin envhooks \
 && mkdir -m 700 /data && chown 10001:10001 /data

WORKDIR /app
# Dependencies first: the largest layer, rebuilt only when the lockfile changes.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json app.yml ./
COPY examples/push.json ./examples/
COPY --from=build /app/dist ./dist

# The embedded database, the secret key file and what /setup writes live on the volume;
# DATABASE_URL=postgres://… switches to PostgreSQL instead.
# MALLOC_ARENA_MAX=2: glibc gives each thread that allocates a malloc arena of its own and keeps
# what was freed in it; two arenas hold less (~45 MB under load on the embedded store), and cost the
# embedded store about a fifth of its speed (docs/performance.md, Memory). Set it to 0 to trade back.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    PORT=3000 \
    ENVHOOKS_DATA_DIR=/data \
    ENVHOOKS_ENV_FILE=/data/.env
VOLUME /data
EXPOSE 3000
USER 10001:10001

# No curl in the image: Node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form: Node is PID 1 and gets SIGTERM itself (envhooks handles it and drains; no --init needed).
# /setup writes the App's credentials to /data/.env, read back here at the next start; variables
# set on the container win over the file. V8's heap flags as `npm start` passes them (scripts/build.ts).
CMD ["node", "--env-file-if-exists=/data/.env", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/main.js"]
