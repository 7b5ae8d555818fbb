FROM maven:3.9-eclipse-temurin-21
WORKDIR /build
COPY pom.xml .
RUN mvn -B dependency:go-offline
COPY src ./src
RUN mvn -B package
USER 1000
CMD ["java", "-jar", "target/app.jar"]
