# A stand-in for boto3, which the seed's Lambda imports but this test cannot reach: the handler
# only creates an S3 client and never calls it.
def client(service_name, *args, **kwargs):
    return object()
