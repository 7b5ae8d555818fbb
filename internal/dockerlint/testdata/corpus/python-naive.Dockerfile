FROM python:3.12
ENV API_TOKEN=sk-live-51Habc123
ENV DJANGO_SECRET_KEY=changeme GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D
WORKDIR /code
COPY . /code/
RUN pip install -r requirements.txt
RUN python -m pip install gunicorn
CMD gunicorn mysite.wsgi
