FROM --platform=linux/amd64 eclipse-temurin:21-jdk AS build
WORKDIR /src
COPY . .
RUN ./mvnw -q package

FROM --platform=$TARGETPLATFORM eclipse-temurin:21-jre
COPY --from=build /src/target/app.jar /app.jar
USER 1001
HEALTHCHECK CMD ["java", "-version"]
ENTRYPOINT ["java", "-jar", "/app.jar"]
