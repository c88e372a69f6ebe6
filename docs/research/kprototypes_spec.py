# Pure-Python re-implementation of kmodes 0.12.2 KPrototypes (explicit init, no sample_weight,
# matching_dissim + euclidean_dissim), written from the spec, to be compared bit-for-bit.
import math
def pw(a):
    n=len(a)
    if n<8:
        r=0.0
        for v in a: r+=v
        return r
    if n<=128:
        r=list(a[:8]); i=8
        while i < n-(n%8):
            for j in range(8): r[j]+=a[i+j]
            i+=8
        res=((r[0]+r[1])+(r[2]+r[3]))+((r[4]+r[5])+(r[6]+r[7]))
        while i<n: res+=a[i]; i+=1
        return res
    n2=n//2; n2-=n2%8
    return pw(a[:n2])+pw(a[n2:])

def gamma_default(xnum):  # xnum: list of rows
    n=len(xnum); d=len(xnum[0]); stds=[]
    for j in range(d):
        col=[r[j] for r in xnum]; m=pw(col)/n
        stds.append(math.sqrt(pw([(v-m)*(v-m) for v in col])/n))
    return 0.5*(pw(stds)/d)

def dist(cn, cc, xn, xc, gamma):
    out=[]
    for k in range(len(cn)):
        num=pw([(cn[k][j]-xn[j])**2 for j in range(len(xn))])
        mis=sum(1 for j in range(len(xc)) if cc[k][j]!=xc[j])
        out.append(num + gamma*mis)
    return out

def argmin(v):
    b=0
    for i in range(1,len(v)):
        if v[i]<v[b]: b=i
    return b

def max_key(dic):
    m=max(dic.values()); return min(k for k,v in dic.items() if v==m)

def labels_cost(Xn, Xc, cn, cc, gamma):
    cost=0.0; labels=[]
    for i in range(len(Xn)):
        t=dist(cn,cc,Xn[i],Xc[i],gamma); c=argmin(t); labels.append(c); cost+=t[c]
    return labels, cost

def fit(Xn, Xc, init_num, init_cat, gamma=None, max_iter=100):
    n=len(Xn); k=len(init_num); dn=len(Xn[0]); dc=len(Xc[0])
    if gamma is None: gamma=gamma_default(Xn)
    cn=[list(map(float,r)) for r in init_num]; cc=[list(r) for r in init_cat]
    memb=[None]*n; asum=[[0.0]*dn for _ in range(k)]; msum=[0.0]*k
    freq=[[{} for _ in range(dc)] for _ in range(k)]
    for i in range(n):
        c=argmin(dist(cn,cc,Xn[i],Xc[i],gamma)); memb[i]=c; msum[c]+=1
        for j in range(dn): asum[c][j]+=Xn[i][j]
        for j in range(dc): freq[c][j][Xc[i][j]]=freq[c][j].get(Xc[i][j],0)+1
    assert min(msum)>0, "empty cluster at init -> kmodes would retry/fall back to random"
    for c in range(k):
        for j in range(dn): cn[c][j]=asum[c][j]/msum[c]
        for j in range(dc): cc[c][j]=max_key(freq[c][j])
    _, cost = labels_cost(Xn,Xc,cn,cc,gamma); epoch=[cost]; itr=0; conv=False; labels=None
    while itr<max_iter and not conv:
        itr+=1; moves=0
        for i in range(n):
            c=argmin(dist(cn,cc,Xn[i],Xc[i],gamma))
            if memb[i]==c: continue
            moves+=1; o=memb[i]
            for j in range(dn): asum[c][j]+=Xn[i][j]; asum[o][j]-=Xn[i][j]
            msum[c]+=1; msum[o]-=1
            memb[i]=c
            for j in range(dc):
                v=Xc[i][j]; tf=freq[c][j]; ff=freq[o][j]
                tf[v]=tf.get(v,0)+1
                if tf.setdefault(cc[c][j],0) < tf[v]: cc[c][j]=v
                ff[v]=ff.get(v,0)-1
                if cc[o][j]==v: cc[o][j]=max_key(ff)
            for j in range(dn):
                for cur in (c,o):
                    cn[cur][j]= asum[cur][j]/msum[cur] if msum[cur] else 0.0
            if not msum[o]:
                raise RuntimeError("empty cluster during iteration: needs numpy RandomState.choice")
        labels, ncost = labels_cost(Xn,Xc,cn,cc,gamma)
        conv = moves==0 or ncost>=cost; epoch.append(ncost); cost=ncost
    return labels, cost, itr, epoch, cn, cc, gamma
