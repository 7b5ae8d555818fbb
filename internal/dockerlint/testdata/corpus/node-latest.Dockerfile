FROM node:latest
MAINTAINER Jane Doe <jane@example.com>
WORKDIR app
COPY package*.json ./
RUN npm install && npm cache clean --force
COPY . .
RUN npm run build
USER node
CMD ["npm", "start"]
