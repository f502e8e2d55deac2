import base64, pytest
from tests.factories import api_secret_for

@pytest.mark.django_db
def test_smoke(client, merchant, future):
    secret = api_secret_for(merchant)
    auth = "Basic " + base64.b64encode(f"{secret}:".encode()).decode()
    r = client.post("/v2/rest/paymentRequest?urlRedirect=https://shop.example/ok&delay=3",
        "totalAmount=1000&currency=EUR&paymentMethod[]=TRANSACTION&breakdown[]={amount:1000, email:a@b.co}&deadline=" + "2030-01-01T10:00:00.123456%2B01:00",
        content_type="application/x-www-form-urlencoded", HTTP_AUTHORIZATION=auth)
    print(r.status_code, r.json())
    assert r.status_code == 200
