import socket,time,sys,threading,subprocess
bad=[];ok=0;stop=False
def run():
    global ok
    while not stop:
        try:
            s=socket.create_connection(('127.0.0.1',7791)); d=b''
            while True:
                x=s.recv(100)
                if not x: break
                d+=x
            s.close()
            if d==b'hi\n': ok+=1
            else: bad.append((time.time(),d))
        except Exception as e: bad.append((time.time(),str(e)))
t=threading.Thread(target=run); t.start()
for i in range(5):
    time.sleep(0.1)
    conf=open('/tmp/vg2/c.conf').read().replace('max_workers = %d'%(8+i),'max_workers = %d'%(9+i))
    open('/tmp/vg2/c.conf','w').write(conf)
    print(time.time(), 'reload', flush=True)
    subprocess.run(['sh','-c','echo "reload" > /tmp/vg2/run/control'])
time.sleep(0.3); stop=True; t.join(); print("ok",ok,"bad",bad)
