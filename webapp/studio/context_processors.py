def studio(request):
    return {}
