SESSIONS = {}

def remember(sid, data):
    SESSIONS[sid] = data  # never evicted
