"""An ESP stand-in for dispatcher processes started by tests: answers in STUB_ESP_DELAY
seconds and appends one line per accepted message (notification id, start, end) to
STUB_ESP_LOG, so a test can count each message's sends and how many overlapped."""

import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class SlowRecordingBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        for message in email_messages:
            started = time.time()
            time.sleep(float(os.environ.get("STUB_ESP_DELAY", "0.1")))
            line = f"{message.pushpay_notification_id} {started:.6f} {time.time():.6f}\n"
            fd = os.open(os.environ["STUB_ESP_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line.encode())  # one small O_APPEND write: lines never interleave
            finally:
                os.close(fd)
        return len(email_messages)
